// What a filter tells about the stored JSON of the records it can match.
import { parseAll } from '@containerd-ts/filters';
import { describe, expect, it } from 'vitest';
import { requiredStrings } from './scan.js';

describe('requiredStrings', () => {
  it('asks for each label equality as JSON.stringify writes it, per alternative', () => {
    expect(requiredStrings(parseAll(['labels."bench.group"==tenth']))).toEqual([['"bench.group":"tenth"']]);
    expect(requiredStrings(parseAll(['labels.a==1,labels.b.c=="x \\"y\\""']))).toEqual([['"a":"1"', '"b.c":"x \\"y\\""']]);
    expect(requiredStrings(parseAll(['labels.a==1', 'labels.b==2']))).toEqual([['"a":"1"'], ['"b":"2"']]);
    // the other selectors of an alternative add nothing, and need nothing
    expect(requiredStrings(parseAll(['name~=x,labels.a==1,labels.b!=2,labels.c']))).toEqual([['"a":"1"']]);
  });

  it('asks for nothing when an alternative has no label equality', () => {
    expect(requiredStrings(parseAll([]))).toBeUndefined();
    expect(requiredStrings(parseAll(['name==x']))).toBeUndefined();
    expect(requiredStrings(parseAll(['labels.a==1', 'name==x']))).toBeUndefined();
    expect(requiredStrings(parseAll(['labels.a!=1']))).toBeUndefined();
    expect(requiredStrings(parseAll(['annotations.a==1']))).toBeUndefined();
    expect(requiredStrings(parseAll(['labels==1']))).toBeUndefined();
  });
});
