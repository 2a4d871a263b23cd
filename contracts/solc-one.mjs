// Compiles one Solidity source read from stdin with the pinned npm `solc` and
// compile.mjs's settings for generated verifiers, and prints the named contract's artifact
// ({ contractName, abi, bytecode, deployedBytecode }) as JSON. For generated
// sources (e.g. a PLONK verifier from `infra-node plonk-verifier`):
//
//   infra-node plonk-verifier ... | node solc-one.mjs PlonkVerifier > PlonkVerifier.json
import solc from 'solc';
import { GENERATED_SETTINGS } from './compile.mjs';

const name = process.argv[2];
if (!name) {
  process.stderr.write('usage: node solc-one.mjs CONTRACT_NAME < source.sol\n');
  process.exit(2);
}
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const input = {
  language: 'Solidity',
  sources: { 'input.sol': { content: Buffer.concat(chunks).toString('utf8') } },
  settings: GENERATED_SETTINGS,
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
if (errors.length > 0) {
  process.stderr.write('solc: compilation failed\n' + errors.map((e) => e.formattedMessage).join('\n') + '\n');
  process.exit(1);
}
const c = output.contracts?.['input.sol']?.[name];
if (!c) {
  process.stderr.write(`solc: no contract named ${name} in the source\n`);
  process.exit(1);
}
process.stdout.write(
  JSON.stringify({
    contractName: name,
    solcVersion: solc.version(),
    abi: c.abi,
    bytecode: '0x' + c.evm.bytecode.object,
    deployedBytecode: '0x' + c.evm.deployedBytecode.object,
  }) + '\n',
);
