//! What goes over the wire: signed blocks (gossip and sync), transactions
//! (gossip), and the sync request/response.

use alloy::{
    primitives::{Address, B256, Bytes, Signature, keccak256},
    rlp::{Decodable, Encodable},
    signers::{SignerSync, local::PrivateKeySigner},
};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use infra_primitives::{BlockBody, Header, SealedBlock};
use serde::{Deserialize, Serialize};

/// Most blocks one sync request may ask for.
pub const MAX_SYNC_BLOCKS: u32 = 64;

/// What a sequencer's block signature covers: a domain tag, the chain id and
/// the block hash (so a signature cannot be replayed on another chain).
pub fn signing_hash(chain_id: u64, block_hash: B256) -> B256 {
    let mut pre = Vec::with_capacity(19 + 8 + 32);
    pre.extend_from_slice(b"infra-node/block/v1");
    pre.extend_from_slice(&chain_id.to_be_bytes());
    pre.extend_from_slice(block_hash.as_slice());
    keccak256(pre)
}

/// Signs `block_hash` for `chain_id`.
pub fn sign_block(signer: &PrivateKeySigner, chain_id: u64, block_hash: B256) -> [u8; 65] {
    signer
        .sign_hash_sync(&signing_hash(chain_id, block_hash))
        .map(|s| s.as_bytes())
        .unwrap_or([0u8; 65])
}

/// The address that signed `block_hash` for `chain_id`, if the signature is valid.
pub fn block_signer(chain_id: u64, block_hash: B256, signature: &[u8; 65]) -> Option<Address> {
    Signature::try_from(&signature[..])
        .ok()?
        .recover_address_from_prehash(&signing_hash(chain_id, block_hash))
        .ok()
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not a signed block: {0}")]
    Rlp(#[from] alloy::rlp::Error),
    #[error("signature of {0} bytes, expected 65")]
    SignatureLength(usize),
}

#[derive(Debug, RlpEncodable, RlpDecodable)]
struct SignedBlockRlp {
    header: Bytes,
    body: Bytes,
    signature: Bytes,
}

/// A block with the sequencer's signature over its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBlock {
    pub block: SealedBlock,
    pub signature: [u8; 65],
}

impl SignedBlock {
    pub fn encode(&self) -> Vec<u8> {
        let mut header = Vec::new();
        self.block.header.encode(&mut header);
        let rlp = SignedBlockRlp {
            header: header.into(),
            body: self.block.body().encode_to_vec().into(),
            signature: Bytes::copy_from_slice(&self.signature),
        };
        alloy::rlp::encode(&rlp)
    }

    /// Decodes and re-hashes the header (the hash is never taken from the wire).
    pub fn decode(mut raw: &[u8]) -> Result<Self, WireError> {
        let rlp = SignedBlockRlp::decode(&mut raw)?;
        let header = Header::decode(&mut rlp.header.as_ref())?;
        let body = BlockBody::decode_from(&rlp.body)?;
        let block = SealedBlock::from_parts(header, body)?;
        let signature: [u8; 65] = rlp
            .signature
            .as_ref()
            .try_into()
            .map_err(|_| WireError::SignatureLength(rlp.signature.len()))?;
        Ok(Self { block, signature })
    }

    /// Whether `expected` signed this block for `chain_id`.
    pub fn signed_by(&self, chain_id: u64, expected: Address) -> bool {
        block_signer(chain_id, self.block.hash, &self.signature) == Some(expected)
    }
}

/// A sync request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncRequest {
    /// The peer's head block number.
    Head,
    /// Blocks `from..from + count` (count at most [`MAX_SYNC_BLOCKS`]).
    Blocks { from: u64, count: u32 },
}

/// A sync response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    Head(u64),
    /// Encoded [`SignedBlock`]s, in order, from the requested one; it stops at the
    /// first block the peer has no signature for.
    Blocks(Vec<Vec<u8>>),
    Refused(String),
}
