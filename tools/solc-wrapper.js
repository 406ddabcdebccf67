#!/usr/bin/env node
// A `solc`-compatible command over solc-js for Slither/crytic-compile: `--version` and `--standard-json`
// (input on stdin, output on stdout). The release is LEDGERML_SOLC_VERSION (an npm alias `solc-X.Y.Z` beside
// anvil in package.json). Imports resolve only inside the --allow-paths folder; anything else is an error.
'use strict';
const fs = require('fs');
const path = require('path');

function fail(message) {
  process.stderr.write(`solc-wrapper: ${message}\n`);
  process.exit(2);
}

const version = process.env.LEDGERML_SOLC_VERSION;
if (!version || !/^\d+\.\d+\.\d+$/.test(version)) fail('set LEDGERML_SOLC_VERSION to a release like 0.5.17');
let solc;
try {
  solc = require(`solc-${version}`);
} catch (err) {
  fail(`solc ${version} is not installed (npm alias solc-${version}): ${err.message}`);
}

const args = process.argv.slice(2);
if (args.includes('--version')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!args.includes('--standard-json')) fail('only --version and --standard-json are supported');
const allowIndex = args.indexOf('--allow-paths');
const roots = (allowIndex >= 0 ? args[allowIndex + 1] : process.cwd()).split(',').map((p) => path.resolve(p));

function findImports(name) {
  for (const root of roots) {
    const full = path.resolve(root, name);
    if (full.startsWith(root + path.sep) && fs.existsSync(full) && fs.statSync(full).isFile()) {
      return { contents: fs.readFileSync(full, 'utf8') };
    }
  }
  return { error: `import ${name} not found` };
}

const input = fs.readFileSync(0, 'utf8');
let output;
if (typeof solc.compileStandardWrapper === 'function') {
  output = solc.compileStandardWrapper(input, findImports); // solc-js before 0.5
} else {
  output = solc.compile(input, { import: findImports });
}
process.stdout.write(output);
