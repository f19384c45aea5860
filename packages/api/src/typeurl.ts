// Type URLs for google.protobuf.Any as containerd writes them, and a registry that packs
// and unpacks Any values by URL.
//
// containerd 1.6 (github.com/containerd/typeurl) puts the bare protobuf full name in
// type_url for protobuf messages (`containerd.events.TaskExit`, no `type.googleapis.com/`
// prefix), and JSON-encodes the OCI runtime-spec types under explicitly registered URLs
// such as `types.containerd.io/opencontainers/runtime-spec/1/Spec`.
import { alreadyExists, invalidArgument, notFound } from '@containerd-ts/errdefs';
import type { Any } from './gen/google/protobuf/any.js';

/** The part of a ts-proto generated message object (`ContainerCreate`, `Mount`, …) the registry uses. */
export interface MessageCodec<T> {
  /** The message's protobuf full name, e.g. `containerd.events.ContainerCreate`. */
  readonly $type: string;
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: Record<string, unknown>): T;
}

/** A value unpacked from an Any. */
export interface UnpackedAny<T = unknown> {
  /** The Any's type URL, as it was on the wire. */
  typeUrl: string;
  /** The protobuf full name for a message type; the type URL for a JSON type. */
  typeName: string;
  /** `protobuf`: decoded by a generated codec; `json`: parsed JSON (runtime-spec types). */
  encoding: 'protobuf' | 'json';
  value: T;
}

/** The runtime-spec types containerd packs as JSON, and their URLs. */
export const RUNTIME_SPEC_TYPE_URLS = {
  Spec: 'types.containerd.io/opencontainers/runtime-spec/1/Spec',
  Process: 'types.containerd.io/opencontainers/runtime-spec/1/Process',
  LinuxResources: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources',
  WindowsResources: 'types.containerd.io/opencontainers/runtime-spec/1/WindowsResources',
} as const;

type Entry = { kind: 'protobuf'; codec: MessageCodec<unknown> } | { kind: 'json' };

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Maps type URLs to codecs. Registering the same URL twice with different codecs is an
 * error, as it is in containerd; registering the same pair again is a no-op.
 */
export class TypeRegistry {
  private readonly byUrl = new Map<string, Entry>();
  private readonly urlByCodec = new Map<MessageCodec<unknown>, string>();

  /** Registers a protobuf message under `typeUrl` (default: its full name, as containerd does). */
  registerType<T>(typeUrl: string | undefined, codec: MessageCodec<T>): void {
    const url = typeUrl ?? codec.$type;
    const erased = codec as MessageCodec<unknown>;
    const existing = this.byUrl.get(url);
    if (existing) {
      if (existing.kind === 'protobuf' && existing.codec === erased) return;
      throw alreadyExists(`type url ${url}`);
    }
    const known = this.urlByCodec.get(erased);
    if (known !== undefined && known !== url) throw alreadyExists(`type ${codec.$type} registered with alternate url ${known}`);
    this.byUrl.set(url, { kind: 'protobuf', codec: erased });
    this.urlByCodec.set(erased, url);
  }

  /** Registers a type URL whose values are JSON documents (containerd's runtime-spec types). */
  registerJsonType(typeUrl: string): void {
    const existing = this.byUrl.get(typeUrl);
    if (existing) {
      if (existing.kind === 'json') return;
      throw alreadyExists(`type url ${typeUrl}`);
    }
    this.byUrl.set(typeUrl, { kind: 'json' });
  }

  /** The URL `packAny` uses for a codec. */
  typeUrlOf<T>(codec: MessageCodec<T>): string {
    return this.urlByCodec.get(codec as MessageCodec<unknown>) ?? codec.$type;
  }

  /** True when the URL (or, leniently, its last path segment) names a registered type. */
  has(typeUrl: string): boolean {
    return this.lookup(typeUrl) !== undefined;
  }

  /**
   * Packs a message into an Any with containerd's type URL. A codec that was never
   * registered packs under its full name, as containerd's fallback to the proto registry does.
   */
  packAny<T>(codec: MessageCodec<T>, value: T): Any {
    return { typeUrl: this.typeUrlOf(codec), value: codec.encode(value).finish() };
  }

  /** Packs a JSON-encoded value (e.g. an OCI spec) under a registered JSON type URL. */
  packJson(typeUrl: string, value: unknown): Any {
    const entry = this.byUrl.get(typeUrl);
    if (entry?.kind !== 'json') throw notFound(`type with url ${typeUrl}`);
    return { typeUrl, value: utf8.encode(JSON.stringify(value)) };
  }

  /** Decodes an Any by its URL; an unknown URL is `type with url …: not found`. */
  unpackAny(any: Any): UnpackedAny {
    const entry = this.lookup(any.typeUrl);
    if (!entry) throw notFound(`type with url ${any.typeUrl}`);
    if (entry.kind === 'json') {
      let value: unknown;
      try {
        value = JSON.parse(utf8Decoder.decode(any.value));
      } catch (err) {
        throw invalidArgument(`decoding ${any.typeUrl}`, err);
      }
      return { typeUrl: any.typeUrl, typeName: any.typeUrl, encoding: 'json', value };
    }
    let value: unknown;
    try {
      value = entry.codec.decode(any.value);
    } catch (err) {
      throw invalidArgument(`decoding ${any.typeUrl}`, err);
    }
    return { typeUrl: any.typeUrl, typeName: entry.codec.$type, encoding: 'protobuf', value };
  }

  /** Decodes an Any that must hold `codec`'s message; anything else is an invalid argument. */
  unpackAs<T>(any: Any, codec: MessageCodec<T>): T {
    if (!this.is(any, codec)) throw invalidArgument(`can't unmarshal type ${JSON.stringify(any.typeUrl)} to output ${JSON.stringify(codec.$type)}`);
    try {
      return codec.decode(any.value);
    } catch (err) {
      throw invalidArgument(`decoding ${any.typeUrl}`, err);
    }
  }

  /** Whether the Any holds `codec`'s message. */
  is<T>(any: Any, codec: MessageCodec<T>): boolean {
    const entry = this.lookup(any.typeUrl);
    return entry?.kind === 'protobuf' && entry.codec === (codec as MessageCodec<unknown>);
  }

  /** Every registered URL, sorted. */
  typeUrls(): string[] {
    return [...this.byUrl.keys()].sort();
  }

  // containerd writes bare names; other clients may send `type.googleapis.com/<name>`,
  // so a miss falls back to the last segment when that names a protobuf message.
  private lookup(typeUrl: string): Entry | undefined {
    const exact = this.byUrl.get(typeUrl);
    if (exact) return exact;
    const slash = typeUrl.lastIndexOf('/');
    if (slash < 0) return undefined;
    const fallback = this.byUrl.get(typeUrl.slice(slash + 1));
    return fallback?.kind === 'protobuf' ? fallback : undefined;
  }
}
