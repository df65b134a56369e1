/** The browser bundle's entry for the SDK test: the package's library entry, put where the page's script finds it. */
import * as sdk from '../../src/client/index.ts';

(globalThis as { sequencerSdk?: typeof sdk }).sequencerSdk = sdk;
