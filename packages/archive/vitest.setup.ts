import { bundleApplyWorker } from './scripts/bundle-apply-worker.mjs';

export default async function setup(): Promise<void> {
  await bundleApplyWorker();
}
