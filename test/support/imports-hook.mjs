// `node --import ./test/support/imports-hook.mjs ...`: prints every module URL the program resolves
// to stderr as "natchain-import <url>", so a test can see what a command loads.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  process.stderr.write('natchain-import ' + r.url + '\\n');
  return r;
}`),
);
