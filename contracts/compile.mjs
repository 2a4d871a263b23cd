// Compiles every Solidity source under contracts/src with the pinned npm `solc`
// (package-lock.json) and writes one artifact per contract to contracts/artifacts:
//   { contractName, sourceName, solcVersion, abi, bytecode, deployedBytecode }
//
//   node compile.mjs           write the artifacts
//   node compile.mjs --check   recompile and exit 1 if a committed artifact differs
//                              from the sources (or one is missing / stale)
import { readFileSync, writeFileSync, readdirSync, statSync, mkdirSync, existsSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const here = dirname(fileURLToPath(import.meta.url));
const SRC = join(here, 'src');
const OUT = join(here, 'artifacts');

// The settings are part of what the artifacts commit to: change them only together
// with a recompile.
export const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  viaIR: false,
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

// Verifiers generated from a PLONK key (src/zk/generated, `infra-node plonk-verifier`)
// are one block of assembly of about 100 KB: solc's Yul optimizer runs out of
// memory on them in the wasm build, so they are compiled on their own with the
// legacy optimizer only.
export const GENERATED_SETTINGS = {
  ...SETTINGS,
  optimizer: { enabled: true, runs: 1, details: { yul: false } },
};
const isGenerated = (sourceName) => sourceName.startsWith('zk/generated/');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return walk(p);
    return name.endsWith('.sol') ? [p] : [];
  });
}

function run(sources, settings) {
  const input = { language: 'Solidity', sources, settings };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    throw new Error('solc: compilation failed\n' + errors.map((e) => e.formattedMessage).join('\n'));
  }
  for (const w of (output.errors ?? []).filter((e) => e.severity !== 'error')) {
    process.stderr.write(w.formattedMessage + '\n');
  }
  return output.contracts ?? {};
}

export function compileAll() {
  const hand = {};
  const generated = {};
  for (const file of walk(SRC).sort()) {
    const name = relative(SRC, file).split('\\').join('/');
    (isGenerated(name) ? generated : hand)[name] = { content: readFileSync(file, 'utf8') };
  }
  const output = { contracts: run(hand, SETTINGS) };
  for (const [name, source] of Object.entries(generated)) {
    Object.assign(output.contracts, run({ [name]: source }, GENERATED_SETTINGS));
  }
  const artifacts = {};
  for (const [sourceName, contracts] of Object.entries(output.contracts ?? {})) {
    for (const [contractName, c] of Object.entries(contracts)) {
      if (artifacts[contractName]) {
        throw new Error(`two contracts are named ${contractName}: artifact names must be unique`);
      }
      artifacts[contractName] = {
        contractName,
        sourceName,
        solcVersion: solc.version(),
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
    }
  }
  return artifacts;
}

const render = (a) => JSON.stringify(a, null, 2) + '\n';

function main() {
  const check = process.argv.includes('--check');
  const artifacts = compileAll();
  const expected = new Set(Object.keys(artifacts).map((n) => `${n}.json`));
  if (check) {
    const problems = [];
    for (const [name, a] of Object.entries(artifacts)) {
      const path = join(OUT, `${name}.json`);
      if (!existsSync(path)) problems.push(`missing artifact ${relative(here, path)}`);
      else if (readFileSync(path, 'utf8') !== render(a)) problems.push(`stale artifact ${relative(here, path)}`);
    }
    if (existsSync(OUT)) {
      for (const f of readdirSync(OUT)) {
        if (f.endsWith('.json') && !expected.has(f)) problems.push(`artifact without a source: artifacts/${f}`);
      }
    }
    if (problems.length > 0) {
      console.error(problems.join('\n'));
      console.error('contracts: artifacts differ from the sources; run `node contracts/compile.mjs` and commit');
      process.exit(1);
    }
    console.log(`contracts: ${expected.size} artifacts match the sources (solc ${solc.version()})`);
    return;
  }
  mkdirSync(OUT, { recursive: true });
  for (const [name, a] of Object.entries(artifacts)) writeFileSync(join(OUT, `${name}.json`), render(a));
  console.log(`contracts: wrote ${expected.size} artifacts with solc ${solc.version()}`);
}

// Run only as a script (solc-one.mjs imports SETTINGS from here).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
