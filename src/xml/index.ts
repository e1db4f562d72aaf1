export * from './build.js';
export * from './codes.js';
export * from './escape.js';
export * from './parse.js';
