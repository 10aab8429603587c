#!/usr/bin/env node
// The package's bin: runs the TypeScript CLI through ts-node, as `npm run cli` does.
require('ts-node').register({ transpileOnly: true, project: require('node:path').join(__dirname, '..', 'tsconfig.json') });
require('./main.ts').main();
