// scratch experiment: content server on a unix socket over local+metadata stores
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { LocalContentStore } from '@containerd-ts/content-local';
import { MetadataDB } from '@containerd-ts/metadata-level';
import { ContentService } from '@containerd-ts/api/services/content';
import { contentServer } from '../dist/index.js';
import { rmSync, mkdirSync } from 'node:fs';
const dir = process.argv[2];
rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true });
const backend = await LocalContentStore.open(`${dir}/content`);
const db = await MetadataDB.open({ path: `${dir}/meta`, content: backend });
const impl = contentServer(db.contentStore());
const WIN = Number(process.env.WIN ?? 0);
const seen = new WeakSet();
function widen(call) {
  let c = call.call; let depth = 0;
  while (c && !c.stream && depth < 5) { c = c.nextCall; depth++; }
  const session = c?.stream?.session;
  if (!session) { console.log('no session', Object.keys(call.call ?? {})); return; }
  if (WIN && !seen.has(session)) { seen.add(session); session.setLocalWindowSize(WIN); session.settings({ initialWindowSize: WIN }); console.log('widened'); }
}
const origWrite = impl.write;
impl.write = (call) => { widen(call); return origWrite(call); };
if (process.env.MODE === 'noop') {
  impl.write = (call) => { widen(call); let off = 0; call.on('data', (r) => { off += r.data.length; call.write({ action: r.action, offset: off, digest: 'sha256:x', total: 0 }); if (r.action === 2) { call.write({ action: 2, offset: off, digest: '' }); call.end(); } }); call.on('end', () => call.end()); };
}
const srv = new Server({ 'grpc.max_receive_message_length': 16 << 20, 'grpc.max_send_message_length': 16 << 20 });
srv.addService(ContentService, impl);
await new Promise((r, j) => srv.bindAsync(`unix://${dir}/d.sock`, ServerCredentials.createInsecure(), (e) => (e ? j(e) : r())));
console.log('ready');
process.on('SIGINT', () => { srv.forceShutdown(); db.close().then(() => process.exit(0)); });
