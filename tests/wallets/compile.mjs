// Compile contracts/TestToken.sol with the pinned npm `solc` (standard JSON,
// optimizer on, evmVersion "cancun").
//
//   import { compileTestToken } from './compile.mjs'  -> { abi, bytecode }
//   node compile.mjs                                  -> writes build/TestToken.json
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import solc from 'solc';

const here = dirname(fileURLToPath(import.meta.url));
export const SOURCE_PATH = join(here, '..', '..', 'contracts', 'src', 'test', 'TestToken.sol');
export const ARTIFACT_PATH = join(here, 'build', 'TestToken.json');

let cached;

/** @returns {{ abi: any[], bytecode: `0x${string}`, solcVersion: string }} */
export function compileTestToken() {
  if (cached) return cached;
  const input = {
    language: 'Solidity',
    sources: { 'TestToken.sol': { content: readFileSync(SOURCE_PATH, 'utf8') } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'cancun',
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    throw new Error('solc compilation failed:\n' + errors.map((e) => e.formattedMessage).join('\n'));
  }
  const c = output.contracts?.['TestToken.sol']?.TestToken;
  if (!c || !c.evm?.bytecode?.object) throw new Error('solc produced no TestToken bytecode');
  cached = { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}`, solcVersion: solc.version() };
  return cached;
}

export default compileTestToken;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const artifact = compileTestToken();
  mkdirSync(dirname(ARTIFACT_PATH), { recursive: true });
  writeFileSync(ARTIFACT_PATH, JSON.stringify(artifact, null, 2) + '\n');
  console.log(`compiled TestToken with solc ${artifact.solcVersion} -> ${ARTIFACT_PATH} (${(artifact.bytecode.length - 2) / 2} bytes)`);
}
