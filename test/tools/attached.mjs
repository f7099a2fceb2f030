/**
 * Prints the programs on an interface's XDP and tcx hooks as JSON. Tests run it inside a test
 * namespace (`ip netns exec NS node test/tools/attached.mjs IFACE`), since interface indexes only
 * mean something within their namespace. It runs the built code (dist/, which `npm test` builds
 * first) without a TypeScript loader: starting one costs seconds in test:kernels' emulated guests.
 */
import { attachedPrograms } from '../../dist/src/collectors/attached.js';
import { resolveInterface } from '../../dist/src/collectors/interfaces.js';

process.stdout.write(JSON.stringify(attachedPrograms(resolveInterface(process.argv[2] ?? '').index)) + '\n');
