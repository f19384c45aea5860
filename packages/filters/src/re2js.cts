// re2js, loaded when the first `~=` pattern is compiled rather than when the daemon starts:
// its module builds RE2's Unicode tables and classes as it loads (~0.5 MB of an idle
// daemon's heap), for a filter operator most calls never use. A CommonJS module, so that
// the load is synchronous both from node_modules and inside a bundle (where esbuild wraps
// a required module in a closure run on first call).
import type * as Re2js from 're2js';

let loaded: typeof Re2js | undefined;

function re2js(): typeof Re2js {
  loaded ??= require('re2js') as typeof Re2js;
  return loaded;
}

export = re2js;
