// Typed client for containerd's v1 gRPC API.
export { Connection, type ConnectionOptions } from './connection.js';
