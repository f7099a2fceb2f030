/**
 * Prints the programs on an interface's XDP and tcx hooks as JSON. Tests run it inside a test
 * namespace (`ip netns exec NS node --import tsx test/tools/attached.ts IFACE`), since interface
 * indexes only mean something within their namespace.
 */
import { attachedPrograms } from '../../src/collectors/attached.js';
import { resolveInterface } from '../../src/collectors/interfaces.js';

process.stdout.write(JSON.stringify(attachedPrograms(resolveInterface(process.argv[2] ?? '').index)) + '\n');
