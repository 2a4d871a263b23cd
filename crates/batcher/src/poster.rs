//! The batch poster: publishes sealed L2 blocks to the L1 `Rollup` contract, in
//! order, each block once; and, in optimistic mode, finalizes outputs whose
//! challenge period has passed.
//!
//! The L1 contract is the record of what is posted: every round starts from
//! `Rollup.nextBlock()` (the first L2 block not yet on L1), so a restart, a
//! dropped transaction or an L1 reorg that removed a batch is repaired by posting
//! from there again, and the contract refuses any batch that does not start
//! exactly there (`WrongFirstBlock`), so no block is ever accepted twice.

use crate::{BatchPayload, Codec};
use alloy::{
    eips::{
        BlockNumberOrTag,
        eip4844::builder::{SidecarBuilder, SimpleCoder},
    },
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    sol_types::SolCall,
};
use infra_l1::{L1Tx, Rollup, SendError, TxSender};
use infra_primitives::SealedBlock;
use infra_stf::Output;
use infra_storage::{BatchRecord, Store};
use std::{sync::Arc, time::Duration};

/// Where batch data goes on L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataAvailability {
    Calldata,
    Blob,
    /// Whichever costs less at the current L1 base fee and blob base fee.
    Auto,
}

#[derive(Debug, Clone)]
pub struct PosterConfig {
    pub rollup: Address,
    /// The bridge (batch records keep where its deposit chain stood, and the
    /// deposits L1 held when a batch was posted) and its deployment block.
    pub bridge: Address,
    pub deploy_block: u64,
    /// Post once this many transactions (deposits included) are waiting...
    pub max_txs: u64,
    /// ...or this many bytes of uncompressed payload (the posted batch, after
    /// zstd, is smaller)...
    pub max_bytes: u64,
    /// ...or the oldest waiting block is this old.
    pub max_latency: Duration,
    pub da: DataAvailability,
    pub poll: Duration,
    /// Call `Rollup.finalize` for batches whose challenge period has passed.
    pub finalize: bool,
    /// The chain as the state-transition function reads it (each output claims
    /// the next block's base fee; batch records name the chain).
    pub chain: infra_stf::claim::ClaimChain,
    /// Tests only (dev chains): claim a wrong state root for every batch whose
    /// index is a multiple of this, once per index (a batch resubmitted after a
    /// lost dispute claims the true root).
    pub faulty_root_every: Option<u64>,
    /// Tests only, with `faulty_root_every`: at most this many wrong roots in
    /// all (`None`: no limit).
    pub faulty_root_limit: Option<u64>,
    /// Tests only, with `faulty_root_every`: every second wrong root (the 1st,
    /// 3rd, ... fault) is the true state plus a forged withdrawal paying the
    /// batcher 1 ETH on L1 ([`ForgedWithdrawal`]); the others are a hash of the
    /// true root.
    pub forge_withdrawals: bool,
}

/// Tests only: a withdrawal the L2 never made, recorded in a wrong output's
/// state root by fault injection, with what `Bridge.finalizeWithdrawal` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgedWithdrawal {
    /// The batch index whose output claims it.
    pub index: u64,
    pub withdrawal: infra_l1::Bridge::Withdrawal,
    /// `Bridge.hashWithdrawal`.
    pub hash: B256,
    /// The claimed (forged) state root.
    pub state_root: B256,
    /// Its proof against `state_root`.
    pub siblings: Vec<B256>,
}

#[derive(Debug, thiserror::Error)]
pub enum PosterError {
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("L1 RPC: {0}")]
    Rpc(String),
    #[error(transparent)]
    Storage(#[from] infra_storage::StorageError),
    #[error(transparent)]
    Batch(#[from] crate::BatchError),
    #[error("blob sidecar: {0}")]
    Blob(String),
    #[error("L2 block {0} is missing from the database")]
    MissingBlock(u64),
    #[error("{0}")]
    Budget(String),
}

fn rpc(e: impl std::fmt::Display) -> PosterError {
    PosterError::Rpc(e.to_string())
}

/// A batch the poster got included on L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedBatch {
    pub first_block: u64,
    pub last_block: u64,
    pub l1_tx: B256,
    pub l1_block: u64,
    pub blob: bool,
    /// Bytes posted (the encoded batch).
    pub bytes: usize,
    pub gas_used: u64,
}

/// Posts batches and finalizes outputs.
#[derive(Debug, Clone)]
pub struct BatchPoster {
    pub store: Store,
    pub sender: Arc<TxSender>,
    pub config: PosterConfig,
    /// Batch indexes already posted with a wrong root (fault injection).
    pub faulted: Arc<std::sync::Mutex<std::collections::BTreeSet<u64>>>,
    /// Withdrawals forged by fault injection, in posting order.
    pub forged: Arc<std::sync::Mutex<Vec<ForgedWithdrawal>>>,
}

/// EIP-7623 floor cost of calldata: 10 gas per token, a token per zero byte and
/// four per non-zero byte (what a data-heavy transaction pays since Prague).
pub fn calldata_floor_gas(data: &[u8]) -> u64 {
    let tokens: u64 = data.iter().map(|b| if *b == 0 { 1 } else { 4 }).sum();
    21_000 + 10 * tokens
}

impl BatchPoster {
    fn rollup(&self) -> Rollup::RollupInstance<&alloy::providers::DynProvider> {
        Rollup::new(self.config.rollup, self.sender.provider())
    }

    /// The blocks to post now, if a trigger fired: from `next`, at most
    /// `max_txs` transactions, `max_bytes` of payload,
    /// [`infra_stf::MAX_BATCH_BLOCKS`] blocks and the blocks the gas budget
    /// admits ([`infra_stf::GasBudget`]).
    fn pending_blocks(&self, next: u64, now_ms: u64) -> Result<Vec<SealedBlock>, PosterError> {
        let reader = self.store.reader()?;
        let Some(head) = reader.head()? else { return Ok(vec![]) };
        let mut blocks = Vec::new();
        let (mut txs, mut bytes) = (0u64, 0u64);
        let mut full = false;
        // The STF's gas budget: a block the batch does not admit starts the next.
        let mut budget = infra_stf::GasBudget::new(&self.config.chain.params);
        for n in next..=head {
            let block = reader.block(n)?.ok_or(PosterError::MissingBlock(n))?;
            let deposit_gas = infra_stf::deposit_gas(&block.deposits);
            if !budget.admits(deposit_gas) {
                if blocks.is_empty() {
                    return Err(PosterError::Budget(format!(
                        "block {n} alone does not fit the batch gas budget (its deposits ask for {deposit_gas} gas; batch_gas {} holds a full block of {} and {} for the block itself): no valid batch can carry it",
                        self.config.chain.params.batch_gas,
                        self.config.chain.params.gas_limit,
                        infra_stf::BLOCK_GAS
                    )));
                }
                full = true;
                break;
            }
            let block_txs = block.tx_count() as u64;
            let block_bytes: u64 = 16
                + block
                    .transactions
                    .iter()
                    .map(|t| alloy::eips::Encodable2718::encode_2718_len(t) as u64 + 3)
                    .sum::<u64>();
            if !blocks.is_empty()
                && (txs + block_txs > self.config.max_txs
                    || bytes + block_bytes > self.config.max_bytes)
            {
                full = true;
                break;
            }
            txs += block_txs;
            bytes += block_bytes;
            budget.spend(block.header.gas_used, deposit_gas);
            blocks.push(block);
            if txs >= self.config.max_txs
                || bytes >= self.config.max_bytes
                || blocks.len() as u64 >= infra_stf::MAX_BATCH_BLOCKS
            {
                full = true;
                break;
            }
        }
        let Some(oldest) = blocks.first() else { return Ok(vec![]) };
        let age_ms = now_ms.saturating_sub(oldest.header.timestamp.saturating_mul(1000));
        let max_latency_ms = u64::try_from(self.config.max_latency.as_millis()).unwrap_or(u64::MAX);
        if full || age_ms >= max_latency_ms { Ok(blocks) } else { Ok(vec![]) }
    }

    async fn use_blob(&self, data: &[u8]) -> Result<bool, PosterError> {
        let needed = blobs_needed(data);
        if needed > MAX_BLOBS_PER_TX {
            if self.config.da != DataAvailability::Calldata {
                tracing::warn!(target: "batcher", bytes = data.len(), blobs = needed, max = MAX_BLOBS_PER_TX, "batch needs more blobs than a transaction may carry: posted as calldata");
            }
            return Ok(false);
        }
        Ok(match self.config.da {
            DataAvailability::Calldata => false,
            DataAvailability::Blob => true,
            DataAvailability::Auto => {
                let p = self.sender.provider();
                let base_fee = p
                    .get_block_by_number(BlockNumberOrTag::Latest)
                    .await
                    .map_err(rpc)?
                    .and_then(|b| b.header.base_fee_per_gas)
                    .unwrap_or(1);
                let blob_fee = p.get_blob_base_fee().await.map_err(rpc)?;
                let blobs = needed as u128;
                let calldata = u128::from(calldata_floor_gas(data)) * u128::from(base_fee);
                let blob = blobs * u128::from(infra_l1::sender::BLOB_GAS) * blob_fee
                    + 100_000 * u128::from(base_fee);
                blob < calldata
            }
        })
    }

    /// Tests only: the state after `block` (root `root`) plus a record in
    /// `L2Withdrawals` of a withdrawal of 1 ETH to the batcher that L2 never
    /// made, and its proof. Its nonce (2^64 + index) is one the predeploy never
    /// gives out.
    async fn forge_withdrawal(
        &self,
        index: u64,
        block: u64,
        root: B256,
    ) -> Result<ForgedWithdrawal, PosterError> {
        use infra_state::{OverlayStore, SparseMerkleTree, TreeHasher, keys};
        let me = self.sender.address();
        let withdrawal = infra_l1::Bridge::Withdrawal {
            nonce: (U256::ONE << 64) + U256::from(index),
            sender: me,
            target: me,
            value: U256::from(10u64).pow(U256::from(18u64)),
            gasLimit: U256::ZERO,
            data: Bytes::new(),
        };
        let bridge = infra_l1::Bridge::new(self.config.bridge, self.sender.provider());
        let hash = bridge.hashWithdrawal(withdrawal.clone()).call().await.map_err(rpc)?;
        let h = TreeHasher::new(self.config.chain.curve);
        let key = keys::storage_key(
            &h,
            infra_l1::L2_WITHDRAWALS,
            infra_primitives::withdrawal_slot(hash),
        );
        let reader = self.store.reader()?;
        let tree = reader.tree_at(block);
        let smt = SparseMerkleTree::new(&h);
        let bad = |e: infra_state::StateError| PosterError::Blob(format!("forging: {e}"));
        let update = smt
            .update(&tree, root, vec![(key, Some(keys::storage_value_hash(&h, U256::ONE)))])
            .map_err(bad)?;
        let mut overlay = OverlayStore::new(&tree);
        overlay.apply(&update.changes);
        let proof = smt.proof(&overlay, update.root, key).map_err(bad)?;
        Ok(ForgedWithdrawal {
            index,
            withdrawal,
            hash,
            state_root: update.root,
            siblings: proof.siblings,
        })
    }

    /// One round: post the next batch if a trigger fired. Returns it once mined.
    pub async fn post_next(&self, now_ms: u64) -> Result<Option<PostedBatch>, PosterError> {
        let next = self.rollup().nextBlock().call().await.map_err(rpc)?;
        let mut blocks = self.pending_blocks(next, now_ms)?;
        if blocks.is_empty() {
            return Ok(None);
        }
        // Calldata is capped on L1 (`Rollup.MAX_CALLDATA`: loading it into the
        // preimage oracle must fit one transaction); data over it goes in
        // blobs when it fits them, else fewer blocks are posted.
        let (data, blob) = loop {
            let data = BatchPayload::from_blocks(&blocks)?.encode(Codec::Zstd);
            let fits_blobs = blobs_needed(&data) <= MAX_BLOBS_PER_TX
                && self.config.da != DataAvailability::Calldata;
            if data.len() <= MAX_CALLDATA {
                let blob = self.use_blob(&data).await?;
                break (data, blob);
            }
            if fits_blobs {
                break (data, true);
            }
            if blocks.len() == 1 {
                return Err(PosterError::Blob(format!(
                    "block {} alone is {} bytes of batch data: more than L1 takes as calldata ({MAX_CALLDATA}){}",
                    blocks[0].number(),
                    data.len(),
                    if self.config.da == DataAvailability::Calldata {
                        " and --batch.da calldata allows no blobs"
                    } else {
                        " or in one transaction's blobs"
                    }
                )));
            }
            blocks.truncate(blocks.len().div_ceil(2));
        };
        let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else { return Ok(None) };
        let (first_block, last_block) = (first.number(), last.number());
        let next_deposit = self.store.reader()?.deposit_cursor_at(last_block)?.next_nonce;
        let derived = Output::after(&self.config.chain.params, &last.header, next_deposit);
        let mut output = Rollup::Output {
            stateRoot: derived.state_root,
            l2BlockNumber: derived.block_number,
            l2BlockHash: derived.block_hash,
            nextBaseFee: derived.next_base_fee,
            nextDepositNonce: derived.next_deposit_nonce,
        };
        if let Some(every) = self.config.faulty_root_every {
            let every = every.max(1);
            let index = self.rollup().batchCount().call().await.map_err(rpc)?;
            let index = u64::try_from(index).unwrap_or(u64::MAX);
            let lock = || self.faulted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let fault = index % every == 0
                && !lock().contains(&index)
                && self.config.faulty_root_limit.is_none_or(|n| (lock().len() as u64) < n);
            if fault && self.config.forge_withdrawals && (index / every) % 2 == 1 {
                let forged = self.forge_withdrawal(index, last_block, output.stateRoot).await?;
                output.stateRoot = forged.state_root;
                tracing::warn!(target: "batcher", index, claimed = %output.stateRoot, withdrawal = %forged.hash, "fault injection: claiming a state root with a forged withdrawal of 1 ETH to the batcher");
                self.forged.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(forged);
            } else if fault {
                output.stateRoot = alloy::primitives::keccak256(output.stateRoot);
                tracing::warn!(target: "batcher", index, claimed = %output.stateRoot, "fault injection: claiming a wrong state root");
            }
            if fault {
                lock().insert(index);
            }
        }
        let claimed = Output {
            state_root: output.stateRoot,
            block_number: output.l2BlockNumber,
            block_hash: output.l2BlockHash,
            next_base_fee: output.nextBaseFee,
            next_deposit_nonce: output.nextDepositNonce,
        };
        let bond = match self.rollup().mode().call().await.map_err(rpc)? {
            0 => self.rollup().outputBond().call().await.map_err(rpc)?,
            _ => U256::ZERO,
        };
        let mut posted = infra_stf::BatchData::Calldata(Bytes::from(data.clone()));
        let tx = if blob {
            let sidecar =
                blob_builder(&data).build_4844().map_err(|e| PosterError::Blob(e.to_string()))?;
            let count = u8::try_from(sidecar.blobs.len())
                .map_err(|_| PosterError::Blob("more than 255 blobs".into()))?;
            let call = Rollup::submitBlobBatchCall {
                firstBlock: first_block,
                lastBlock: last_block,
                blobCount: count,
                output,
            };
            posted = infra_stf::BatchData::Blobs(
                sidecar
                    .versioned_hashes()
                    .zip(&sidecar.blobs)
                    .map(|(versioned_hash, b)| infra_stf::PostedBlob {
                        versioned_hash,
                        data: Bytes::copy_from_slice(b.as_slice()),
                    })
                    .collect(),
            );
            let mut tx = L1Tx::call(self.config.rollup, call.abi_encode().into());
            tx.sidecar = Some(sidecar);
            tx.value = bond;
            tx
        } else {
            let call = Rollup::submitBatchCall {
                firstBlock: first_block,
                lastBlock: last_block,
                data: Bytes::from(data.clone()),
                output,
            };
            let mut tx = L1Tx::call(self.config.rollup, call.abi_encode().into());
            tx.value = bond;
            tx
        };
        let receipt = self.sender.send(tx).await?;
        if let Some(ev) = receipt.decoded_log::<Rollup::BatchSubmitted>() {
            // Kept for `infra-node fpvm run` (the sequencer's own output is the
            // derived one; the claim may differ under fault injection).
            let pre_deposit = self.store.reader()?.deposit_cursor_at(first_block - 1)?.next_nonce;
            let bridge = infra_l1::Bridge::new(self.config.bridge, self.sender.provider());
            let deposit_base = match bridge
                .depositAccumulators(U256::from(pre_deposit))
                .call()
                .await
            {
                Ok(acc) => Some(acc),
                Err(e) => {
                    tracing::warn!(target: "batcher", error = %e, "reading the bridge's deposit chain: the batch record will lack it (fpvm run cannot decide this batch)");
                    None
                }
            };
            // Every deposit L1 held at posting (what the claim's input 5
            // counts), not only the ones these blocks applied.
            let applied: Vec<infra_primitives::DepositTx> = blocks
                .iter()
                .flat_map(|b| b.deposits.iter().cloned())
                .filter(|d| d.nonce >= pre_deposit)
                .collect();
            let held = ev.data.depositCount;
            let deposits = if held > next_deposit {
                match infra_l1::deposits_by_nonce(
                    self.sender.provider(),
                    self.config.bridge,
                    next_deposit,
                    held,
                    self.config.deploy_block,
                    receipt.block_number.unwrap_or_default(),
                )
                .await
                {
                    Ok(more) => applied.into_iter().chain(more).collect(),
                    Err(e) => {
                        tracing::warn!(target: "batcher", error = %e, "reading the deposits L1 held: the batch record lacks them (this node cannot play games on this batch)");
                        applied
                    }
                }
            } else {
                applied
            };
            let (data, blob_hashes) = BatchRecord::posted(&posted);
            self.store.put_batch(
                &BatchRecord {
                    index: u64::try_from(ev.data.index).unwrap_or(u64::MAX),
                    first_block,
                    last_block,
                    data,
                    blob_hashes,
                    claimed: claimed.encode().to_vec().into(),
                    derived: derived.encode().to_vec().into(),
                    chain: self.config.chain.encode().into(),
                    deposits,
                    deposit_base,
                },
                u64::try_from(ev.data.claimId).ok(),
            )?;
        }
        let posted = PostedBatch {
            first_block,
            last_block,
            l1_tx: receipt.transaction_hash,
            l1_block: receipt.block_number.unwrap_or_default(),
            blob,
            bytes: data.len(),
            gas_used: receipt.gas_used,
        };
        tracing::info!(
            target: "batcher",
            first_block, last_block,
            l1_tx = %posted.l1_tx,
            l1_block = posted.l1_block,
            blob,
            bytes = posted.bytes,
            gas = posted.gas_used,
            "batch posted"
        );
        Ok(Some(posted))
    }

    /// Finalizes the next batch if its challenge period has passed (optimistic
    /// mode; anyone may call `finalize`). Returns the index finalized.
    pub async fn finalize_next(&self) -> Result<Option<u64>, PosterError> {
        let rollup = self.rollup();
        let index = rollup.nextToFinalize().call().await.map_err(rpc)?;
        let count = rollup.batchCount().call().await.map_err(rpc)?;
        if index >= count {
            return Ok(None);
        }
        let tx = L1Tx::call(self.config.rollup, Rollup::finalizeCall { index }.abi_encode().into());
        // Not final yet (or challenged): the simulation says so and nothing is sent.
        if self.sender.simulate(&tx).await.is_err() {
            return Ok(None);
        }
        self.sender.send(tx).await?;
        let index = u64::try_from(index).unwrap_or(u64::MAX);
        tracing::info!(target: "batcher", index, "output finalized");
        Ok(Some(index))
    }

    /// Posts and finalizes until `cancel` fires. Transient L1 errors are logged
    /// and retried on the next round.
    pub async fn run(self, cancel: infra_bus::CancellationToken) -> Result<(), PosterError> {
        // A transaction sent before a restart is mined or dropped before anything
        // else, so the contract's view is settled.
        if !self.sender.wait_idle(Duration::from_secs(120)).await? {
            tracing::warn!(target: "batcher", "an earlier L1 transaction is still pending; continuing (the contract refuses duplicates)");
        }
        loop {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or_default();
            let posted = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = self.post_next(now_ms) => r,
            };
            let more = match posted {
                Ok(p) => p.is_some(),
                Err(e) => {
                    tracing::warn!(target: "batcher", "posting: {e}");
                    false
                }
            };
            // A few outputs a round (one L1 transaction each), so finalization
            // catches up after a game held it back, while posting goes on.
            let finalizing = if self.config.finalize { FINALIZE_PER_ROUND } else { 0 };
            for _ in 0..finalizing {
                let finalized = tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    r = self.finalize_next() => r,
                };
                match finalized {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(target: "batcher", "finalizing: {e}");
                        break;
                    }
                }
            }
            if !more {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(self.config.poll) => {}
                }
            }
        }
    }
}

/// The most outputs the poster finalizes between two posts.
const FINALIZE_PER_ROUND: u32 = 8;

/// The most calldata `Rollup` takes for one batch (`MAX_CALLDATA`).
pub const MAX_CALLDATA: usize = 400_000;

/// The most bytes one piece of the simple blob encoding carries: alloy's
/// decoder (the state-transition function's) refuses a longer piece, which
/// would make the batch invalid.
pub const MAX_BLOB_PIECE: usize = 2 * 1024 * 1024;

/// The most blobs one L1 transaction may carry (EIP-7594, since Osaka).
pub const MAX_BLOBS_PER_TX: usize = alloy::eips::eip7594::MAX_BLOBS_PER_TX_FUSAKA as usize;

/// `data` in the simple blob encoding, in pieces of at most [`MAX_BLOB_PIECE`]
/// bytes (decoding joins them).
pub fn blob_builder(data: &[u8]) -> SidecarBuilder<SimpleCoder> {
    let mut builder = SidecarBuilder::<SimpleCoder>::with_capacity(blobs_needed(data));
    for piece in data.chunks(MAX_BLOB_PIECE) {
        builder.ingest(piece);
    }
    builder
}

/// How many blobs [`blob_builder`] fills for `data`.
pub fn blobs_needed(data: &[u8]) -> usize {
    use alloy::eips::eip4844::{FIELD_ELEMENTS_PER_BLOB, builder::SidecarCoder};
    let fes: usize =
        data.chunks(MAX_BLOB_PIECE).map(|p| SimpleCoder::default().required_fe(p)).sum();
    fes.div_ceil(FIELD_ELEMENTS_PER_BLOB as usize).max(1)
}

#[cfg(test)]
mod blob_tests {
    use super::*;
    use infra_stf::{BatchData, PostedBlob};

    fn decode(builder: SidecarBuilder<SimpleCoder>) -> Vec<u8> {
        let blobs = builder
            .take()
            .into_iter()
            .map(|b| PostedBlob { versioned_hash: Default::default(), data: b.to_vec().into() })
            .collect();
        BatchData::Blobs(blobs).payload().expect("decodes").into_owned()
    }

    #[test]
    fn a_payload_over_one_piece_is_posted_in_pieces_the_stf_decodes() {
        // 2.5 MiB: one piece would be over the decoder's 2 MiB and the batch invalid.
        let data: Vec<u8> = (0..(5usize << 19)).map(|i| (i * 7 + i / 251) as u8).collect();
        let one_piece = SidecarBuilder::<SimpleCoder>::from_slice(&data);
        let blobs = one_piece
            .take()
            .into_iter()
            .map(|b| PostedBlob { versioned_hash: Default::default(), data: b.to_vec().into() })
            .collect();
        assert!(BatchData::Blobs(blobs).payload().is_err(), "one 2.5 MiB piece is refused");
        assert_eq!(decode(blob_builder(&data)), data);
        assert_eq!(blob_builder(&data).take().len(), blobs_needed(&data));
        assert!(blobs_needed(&data) > MAX_BLOBS_PER_TX, "so it goes as calldata");
        // Small payloads: one blob, as before.
        let small = vec![9u8; 1000];
        assert_eq!(decode(blob_builder(&small)), small);
        assert_eq!(blobs_needed(&small), 1);
        let six = vec![1u8; 126_000 * 6];
        assert_eq!(blobs_needed(&six), MAX_BLOBS_PER_TX);
        assert_eq!(decode(blob_builder(&six)), six);
    }
}
