/** Test access to the private slapd helper (scripts/slapd.ts). */
export { startSlapd, freePort, type SlapdHandle, type SlapdOptions } from '../../scripts/slapd.js';
