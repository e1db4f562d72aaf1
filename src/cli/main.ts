/**
 * The `viber-bulk` entry point. ES modules are all loaded before any of them runs, so this file
 * imports nothing else statically: early-signals runs within Node's own start-up, and the
 * program (commander, the commands) loads after it.
 */
import './early-signals.js';

await import('./program.js');
