import { describe, expect, it } from 'vitest';
import { GoMap, RawJSON, compactJSON, goEscape, goMarshal, marshalIndex, marshalManifest, rawMembers } from './go-json.js';

describe('Go encoding/json', () => {
  it('escapes as Go 1.19: HTML characters, line separators, \\b and \\f; an escaped backslash stays', () => {
    expect(goEscape(JSON.stringify('a<b>&\u2028\b\f\\b\n'))).toBe('"a\\u003cb\\u003e\\u0026\\u2028\\u0008\\u000c\\\\b\\n"');
  });

  it('compacts a RawMessage: whitespace out of structure only, HTML escaped inside strings', () => {
    expect(compactJSON('{ "a" : [1, 2],\n "b": "x y <z>", "c": "\\" }" }')).toBe('{"a":[1,2],"b":"x y \\u003cz\\u003e","c":"\\" }"}');
  });

  it('writes maps with sorted keys and structs in field order, omitting undefined', () => {
    expect(goMarshal({ z: 1, a: undefined, m: new GoMap({ b: '2', a: new RawJSON(' [ 1 ] ') }) })).toBe('{"z":1,"m":{"a":[1],"b":"2"}}');
  });

  it('marshals a manifest as ocispec.Manifest: field order, omitempty, unknown fields dropped', () => {
    const parsed = JSON.parse(
      '{"layers":[{"size":3,"digest":"sha256:l","mediaType":"t","annotations":{"k":"<&>"},"x":1}],"config":{"digest":"sha256:c","size":2,"mediaType":"c","urls":[],"annotations":{}},"schemaVersion":2,"extra":true}',
    );
    expect(marshalManifest(parsed)).toBe(
      '{"schemaVersion":2,"config":{"mediaType":"c","digest":"sha256:c","size":2},"layers":[{"mediaType":"t","digest":"sha256:l","size":3,"annotations":{"k":"\\u003c\\u0026\\u003e"}}]}',
    );
    expect(marshalManifest({ schemaVersion: 2, config: { mediaType: 'c', digest: 'd', size: 1 } } as never)).toContain('"layers":null');
  });

  it('marshals an index with platforms as ocispec.Index', () => {
    const index = { mediaType: 'i', manifests: [{ digest: 'sha256:m', size: 1, mediaType: 'm', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }], schemaVersion: 2 };
    expect(marshalIndex(index)).toBe(
      '{"schemaVersion":2,"mediaType":"i","manifests":[{"mediaType":"m","digest":"sha256:m","size":1,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}',
    );
  });

  it('splits an object into its members raw texts; the last of a repeated key wins', () => {
    const m = rawMembers(' { "a" : { "x" : "}" } , "b":[1,{"c":2}], "a": "last", "n": null } ');
    expect([...m]).toEqual([
      ['a', '"last"'],
      ['b', '[1,{"c":2}]'],
      ['n', 'null'],
    ]);
    expect(() => rawMembers('[1]')).toThrow(/cannot unmarshal/);
  });
});
