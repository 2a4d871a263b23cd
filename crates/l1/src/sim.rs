//! An L1 in revm, in process: for contract tests and gas measurements (it is not a
//! node: no RPC, no mempool). Every transaction is its own block, 12 s after the
//! previous one; the block's base fee and blob base fee are zero so balances move
//! only by value, and the EVM is Osaka (the BN254 and BLS12-381 precompiles of
//! EIP-196/197/2537 and the point-evaluation precompile of EIP-4844 are there).

use alloy::{
    primitives::{Address, B256, Bytes, Log, TxKind, U256},
    sol_types::{SolCall, SolInterface},
};
use revm::{
    Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::{block::BlobExcessGasAndPrice, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    primitives::hardfork::SpecId,
    state::{AccountInfo, Bytecode},
};

/// Chain id of the simulated L1.
pub const SIM_CHAIN_ID: u64 = 31337;
/// Gas limit of each simulated transaction.
pub const SIM_TX_GAS_LIMIT: u64 = 16_000_000;

/// Why a simulated transaction did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The call reverted with this data.
    Revert(Bytes),
    /// The EVM halted (out of gas, invalid opcode, ...).
    Halt(String),
}

impl Failure {
    /// Decodes the revert data as one of the errors of a contract (for example
    /// `Rollup::RollupErrors`); panics with the raw data otherwise (test helper).
    pub fn decode<E: SolInterface>(self) -> E {
        match self {
            Failure::Revert(data) => E::abi_decode(&data)
                .unwrap_or_else(|_| panic!("not a {} error: {data}", std::any::type_name::<E>())),
            Failure::Halt(h) => panic!("halted: {h}"),
        }
    }
}

/// What a successful simulated transaction did.
#[derive(Debug)]
pub struct Outcome {
    /// Return data (empty for a creation).
    pub output: Bytes,
    /// Logs emitted.
    pub logs: Vec<Log>,
    /// The created contract, for a creation.
    pub created: Option<Address>,
    /// Gas the whole transaction used (intrinsic gas, EIP-7623 floor included).
    pub gas: u64,
}

/// A one-node L1 in revm.
pub struct SimL1 {
    db: CacheDB<EmptyDB>,
    timestamp: u64,
    number: u64,
}

impl SimL1 {
    /// An L1 where each of `funded` holds `balance` wei.
    pub fn new(funded: &[Address], balance: U256) -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        for a in funded {
            db.insert_account_info(*a, AccountInfo { balance, ..Default::default() });
        }
        Self { db, timestamp: 1_700_000_000, number: 1 }
    }

    fn block(&self) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.number),
            timestamp: U256::from(self.timestamp),
            gas_limit: 60_000_000,
            basefee: 0,
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new_with_spec(0, SpecId::OSAKA)),
            prevrandao: Some(B256::ZERO),
            ..Default::default()
        }
    }

    fn cfg() -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(SpecId::OSAKA);
        cfg.chain_id = SIM_CHAIN_ID;
        cfg.disable_nonce_check = true;
        cfg
    }

    fn tx(from: Address, kind: TxKind, data: Bytes, value: U256, blobs: Vec<B256>) -> TxEnv {
        let blob = !blobs.is_empty();
        TxEnv {
            tx_type: if blob { 3 } else { 2 },
            caller: from,
            gas_limit: SIM_TX_GAS_LIMIT,
            gas_price: 0,
            gas_priority_fee: Some(0),
            kind,
            value,
            data,
            chain_id: Some(SIM_CHAIN_ID),
            blob_hashes: blobs,
            max_fee_per_blob_gas: if blob { 1 } else { 0 },
            ..Default::default()
        }
    }

    fn outcome(res: ExecutionResult) -> Result<Outcome, Failure> {
        match res {
            ExecutionResult::Success { output, logs, gas, .. } => Ok(Outcome {
                created: output.address().copied(),
                output: output.into_data(),
                logs,
                gas: gas.tx_gas_used(),
            }),
            ExecutionResult::Revert { output, .. } => Err(Failure::Revert(output)),
            ExecutionResult::Halt { reason, .. } => Err(Failure::Halt(format!("{reason:?}"))),
        }
    }

    /// Runs one transaction in a new block and commits it. `blobs` are the
    /// versioned hashes of a blob transaction (none: an EIP-1559 transaction).
    pub fn exec(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Bytes,
        value: U256,
        blobs: Vec<B256>,
    ) -> Result<Outcome, Failure> {
        self.number += 1;
        self.timestamp += 12;
        Self::outcome(self.run(Self::tx(from, kind, data, value, blobs), true))
    }

    /// Runs `tx` on the current block, committing its changes or not.
    fn run(&mut self, tx: TxEnv, commit: bool) -> ExecutionResult {
        let block = self.block();
        let mut evm = Context::mainnet()
            .with_db(&mut self.db)
            .with_cfg(Self::cfg())
            .with_block(block)
            .build_mainnet();
        if commit {
            evm.transact_commit(tx).expect("valid tx")
        } else {
            evm.transact(tx).expect("valid tx").result
        }
    }

    /// Deploys `initcode` (bytecode and constructor arguments); panics if it fails.
    pub fn deploy(&mut self, from: Address, initcode: Vec<u8>) -> Address {
        let out = self
            .exec(from, TxKind::Create, initcode.into(), U256::ZERO, vec![])
            .unwrap_or_else(|e| panic!("deployment failed: {e:?}"));
        out.created.expect("created address")
    }

    /// Sends an ABI call.
    pub fn send<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: &C,
        value: U256,
    ) -> Result<Outcome, Failure> {
        self.exec(from, TxKind::Call(to), call.abi_encode().into(), value, vec![])
    }

    /// Runs an ABI call without committing it (as `eth_call`).
    pub fn try_view<C: SolCall>(&mut self, to: Address, call: &C) -> Result<C::Return, Failure> {
        let tx =
            Self::tx(Address::ZERO, TxKind::Call(to), call.abi_encode().into(), U256::ZERO, vec![]);
        let out = Self::outcome(self.run(tx, false))?;
        Ok(C::abi_decode_returns(&out.output).expect("decodable return"))
    }

    /// As [`Self::try_view`]; panics when the call reverts.
    pub fn view<C: SolCall>(&mut self, to: Address, call: &C) -> C::Return {
        self.try_view(to, call).unwrap_or_else(|e| panic!("view reverted: {e:?}"))
    }

    /// The timestamp of the last block (a transaction's block is 12 s later).
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// Moves the clock forward.
    pub fn warp(&mut self, seconds: u64) {
        self.timestamp += seconds;
    }

    /// Balance of `a`.
    pub fn balance(&self, a: Address) -> U256 {
        self.db.cache.accounts.get(&a).map(|acc| acc.info.balance).unwrap_or_default()
    }

    /// Puts runtime code at an address (as `anvil_setCode`).
    pub fn put_code(&mut self, at: Address, runtime: Bytes) {
        let code = Bytecode::new_raw(runtime);
        self.db.insert_account_info(
            at,
            AccountInfo { code_hash: code.hash_slow(), code: Some(code), ..Default::default() },
        );
    }

    /// A storage slot of `a` as last written (None: never written here).
    pub fn storage(&self, a: Address, slot: U256) -> Option<U256> {
        self.db.cache.accounts.get(&a).and_then(|acc| acc.storage.get(&slot).copied())
    }

    /// The number of the last block (each transaction is its own block).
    pub fn block_number(&self) -> u64 {
        self.number
    }

    /// The nonce of `a` (the next contract it creates lands at `a.create(nonce)`).
    pub fn nonce(&self, a: Address) -> u64 {
        self.db.cache.accounts.get(&a).map(|acc| acc.info.nonce).unwrap_or_default()
    }
}

/// A rollup to deploy in a [`SimL1`] (see [`SimL1::deploy_rollup`]).
#[derive(Debug, Clone)]
pub struct SimRollup {
    pub owner: Address,
    pub batcher: Address,
    /// 0 optimistic, 1 zk.
    pub mode: u8,
    pub challenge_period: u64,
    pub genesis: crate::Rollup::Output,
    /// zk: the batch verifier.
    pub verifier: Address,
    /// optimistic: the output bond.
    pub output_bond: U256,
    pub chain_input: Bytes,
}

impl SimRollup {
    /// The rollup's creation code in front of `game` and `bridge` (zero bond in zk mode).
    pub fn initcode(&self, game: Address, bridge: Address) -> Vec<u8> {
        use alloy::sol_types::SolConstructor;
        let args = crate::Rollup::constructorCall {
            owner_: self.owner,
            batcher_: self.batcher,
            mode_: self.mode,
            challengePeriod_: self.challenge_period,
            genesis: self.genesis.clone(),
            verifier_: self.verifier,
            game_: game,
            outputBond_: if self.mode == 0 { self.output_bond } else { U256::ZERO },
            bridge_: bridge,
            chainInput_: self.chain_input.clone(),
        }
        .abi_encode();
        [crate::Rollup::BYTECODE.to_vec(), args].concat()
    }

    /// An optimistic rollup with a 1 ETH output bond and the dev chain's input.
    pub fn optimistic(owner: Address, batcher: Address, challenge_period: u64) -> Self {
        Self {
            owner,
            batcher,
            mode: 0,
            challenge_period,
            genesis: crate::Rollup::Output {
                stateRoot: B256::repeat_byte(0x60),
                l2BlockNumber: 0,
                l2BlockHash: B256::repeat_byte(0x61),
                nextBaseFee: 875_000_000,
                nextDepositNonce: 0,
            },
            verifier: Address::ZERO,
            output_bond: U256::from(10u128.pow(18)),
            chain_input: sim_chain_input(),
        }
    }
}

/// A chain input `Rollup` accepts: zeros but for a 30 M gas limit (bytes
/// 8..16) and a 60 M batch gas budget (bytes 69..77).
pub fn sim_chain_input() -> Bytes {
    let mut b = vec![0u8; 77];
    b[8..16].copy_from_slice(&30_000_000u64.to_be_bytes());
    b[69..77].copy_from_slice(&60_000_000u64.to_be_bytes());
    Bytes::from(b)
}

/// Where [`SimL1::deploy_rollup`] put the contracts.
#[derive(Debug, Clone, Copy)]
pub struct SimContracts {
    pub rollup: Address,
    pub bridge: Address,
    pub poseidon: Address,
    /// optimistic: what `game` deployed.
    pub game: Address,
}

impl SimL1 {
    /// Deploys Poseidon (BN254), then (optimistic) the game from `game(rollup
    /// address)`'s creation code, then the rollup and the bridge, which name each
    /// other (and the game) at addresses computed in advance.
    pub fn deploy_rollup(
        &mut self,
        from: Address,
        r: &SimRollup,
        game: Option<&dyn Fn(Address) -> Vec<u8>>,
    ) -> SimContracts {
        use alloy::sol_types::SolConstructor;
        let poseidon = self.deploy(from, crate::PoseidonBn254::BYTECODE.to_vec());
        let game = match game {
            Some(code) => {
                let rollup_at = from.create(self.nonce(from) + 1);
                self.deploy(from, code(rollup_at))
            }
            None => Address::ZERO,
        };
        let n = self.nonce(from);
        let (rollup_at, bridge_at) = (from.create(n), from.create(n + 1));
        let rollup = self.deploy(from, r.initcode(game, bridge_at));
        let args =
            crate::Bridge::constructorCall { owner_: r.owner, rollup_: rollup, hasher_: poseidon }
                .abi_encode();
        let bridge = self.deploy(from, [crate::Bridge::BYTECODE.to_vec(), args].concat());
        assert_eq!((rollup, bridge), (rollup_at, bridge_at), "addresses computed in advance");
        SimContracts { rollup, bridge, poseidon, game }
    }

    /// [`SimL1::deploy_rollup`] with a [`crate::TestGame`] of clock `clock` in
    /// front of an optimistic rollup (a zk rollup gets none).
    pub fn deploy_rollup_with_test_game(
        &mut self,
        from: Address,
        r: &SimRollup,
        clock: u64,
    ) -> SimContracts {
        use alloy::sol_types::SolConstructor;
        if r.mode != 0 {
            return self.deploy_rollup(from, r, None);
        }
        let code = |rollup: Address| {
            let args = crate::TestGame::constructorCall {
                source_: rollup,
                maxClockDuration_: clock,
                maxGameDuration_: U256::from(2 * clock),
            }
            .abi_encode();
            [crate::TestGame::BYTECODE.to_vec(), args].concat()
        };
        self.deploy_rollup(from, r, Some(&code))
    }
}
