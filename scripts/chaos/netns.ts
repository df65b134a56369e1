/** Moved to src/cli/network-namespaces.ts (the devnet's --hosts uses it too). */
export * from '../../src/cli/network-namespaces.ts';
