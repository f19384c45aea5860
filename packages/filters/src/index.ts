// containerd's filter syntax: parse `id==x,labels."a.b"~=^v` into a Filter and match objects
// through an Adaptor that resolves field paths.

export { type Adaptor, adapt, type FieldTree, type FieldValue, mapAdaptor, objectAdaptor, type ObjectAdaptorOptions, type StringMap } from './adaptor.js';
export { AllOf, AnyOf, always, type Filter, formatSelector, type Operator, Selector, type SelectorSpec } from './filter.js';
export { FilterParseError, parse, parseAll } from './parser.js';
export { compileRegexp, type Pattern, RegexpSyntaxError } from './regexp.js';
