// Types of blob-data.mjs (plain JavaScript so the child process can run it unbuilt).
export declare const CHUNK: number;
export declare function baseChunk(seed: number): Buffer;
export declare function chunkAt(base: Buffer, index: number): Buffer;
export declare function blobDigest(size: number, seed: number): string;
