// Test support for the gRPC service packages (not a plugin; a devDependency of their tests).
export { backendDigests, putBlob } from './blobs.js';
export { type ServiceEnv, type ServiceEnvOptions, type ServiceEnvWithGC, type ServiceParts, createServiceEnv, manualGC } from './env.js';
