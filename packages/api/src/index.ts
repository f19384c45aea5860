// @containerd-ts/api: the Any type URL registry and helpers. The generated messages and
// service definitions are imported from subpaths (see README), e.g.
// `@containerd-ts/api/services/content`.
import { notFound } from '@containerd-ts/errdefs';
import { fromProtoFieldNames, toProtoFieldNames } from './field-names.js';
import type { Any } from './gen/google/protobuf/any.js';
import { createDefaultRegistry, messageCodecs } from './known-types.js';
import type { MessageCodec, UnpackedAny } from './typeurl.js';

export { type MessageCodec, type UnpackedAny, RUNTIME_SPEC_TYPE_URLS, TypeRegistry } from './typeurl.js';
export {
  EVENT_TOPICS,
  type EventTypeName,
  createDefaultRegistry,
  eventCodecs,
  generatedModules,
  messageCodecs,
} from './known-types.js';
export { MAP_FIELD_NAMES, fromProtoFieldNames, toProtoFieldNames } from './field-names.js';
export type { Any } from './gen/google/protobuf/any.js';

/** The process-wide registry: every API message, all event messages, the runtime-spec JSON types. */
export const typeRegistry = createDefaultRegistry();

/** Registers a message codec under `typeUrl` (containerd's default is the message's full name). */
export function registerType<T>(typeUrl: string | undefined, codec: MessageCodec<T>): void {
  typeRegistry.registerType(typeUrl, codec);
}

/** Registers a type URL whose payload is JSON. */
export function registerJsonType(typeUrl: string): void {
  typeRegistry.registerJsonType(typeUrl);
}

/** Packs `value` into an Any with the type URL containerd uses for it. */
export function packAny<T>(codec: MessageCodec<T>, value: T): Any {
  return typeRegistry.packAny(codec, value);
}

/** Packs a JSON value (an OCI spec, process or resources) under its registered URL. */
export function packJson(typeUrl: string, value: unknown): Any {
  return typeRegistry.packJson(typeUrl, value);
}

/** Decodes an Any; throws errdefs `not found` (`type with url …: not found`) for an unknown URL. */
export function unpackAny(any: Any): UnpackedAny {
  return typeRegistry.unpackAny(any);
}

/** Decodes an Any that must hold `codec`'s message. */
export function unpackAs<T>(any: Any, codec: MessageCodec<T>): T {
  return typeRegistry.unpackAs(any, codec);
}

/** Whether an Any holds `codec`'s message. */
export function isType<T>(any: Any, codec: MessageCodec<T>): boolean {
  return typeRegistry.is(any, codec);
}

/** The type URL `packAny` writes for `codec`. */
export function typeUrlOf<T>(codec: MessageCodec<T>): string {
  return typeRegistry.typeUrlOf(codec);
}

/**
 * Packs a message given by full name and fields keyed by .proto field name, e.g.
 * `packFields('containerd.events.ContainerUpdate', { id, snapshot_key })`.
 */
export function packFields(typeName: string, fields: Readonly<Record<string, unknown>>): Any {
  const codec = messageCodecs.get(typeName);
  if (!codec) throw notFound(`type with url ${typeName}`);
  return typeRegistry.packAny(codec, codec.fromPartial(fromProtoFieldNames(fields)));
}

/** Decodes an Any to its type name and fields keyed by .proto field name (defaults included). */
export function unpackFields(any: Any): { typeName: string; fields: Record<string, unknown> } {
  const { typeName, encoding, value } = typeRegistry.unpackAny(any);
  if (encoding === 'protobuf') return { typeName, fields: toProtoFieldNames(value) };
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  return { typeName, fields: isObject ? { ...value } : { value } };
}
export { requestTypeOf, wireProblem } from './strict-decode.js';
