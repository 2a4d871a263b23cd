// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IPreimageOracle} from "./IPreimageOracle.sol";
import {IPoseidon} from "../poseidon/IPoseidon.sol";
import {LocalKey} from "./LocalKey.sol";

/// @title PreimageOracle
/// @notice The fault-proof VM's preimage oracle on L1. The program reads a
/// preimage as a stream (its length as 8 bytes big-endian, then its bytes), 32
/// bytes at a time; a step that reads needs only the one 32-byte part it reads.
/// Anyone may load a part of any preimage at any time: the key is computed here
/// from the preimage, so a part can only be loaded for the key it belongs to.
/// Key types (byte 0 of the key; see `crates/fpvm/src/oracle.rs` and
/// `crates/stf/src/claim.rs`):
/// - 2 keccak256: `keccak256(preimage)` (batch calldata, a blob batch's
///   versioned hashes, contract code, L2 block headers, deposit records);
/// - 3 Poseidon: a tree node (65 bytes: tag 1 internal or 2 leaf, two words),
///   an account leaf value (96 bytes: nonce, balance, code hash) or a storage
///   leaf value (32 bytes), hashed here with the state tree's Poseidon; every
///   word an input of the hash must be canonical (below the field's modulus,
///   a nonce below 2^64), so no second preimage of a key can be loaded (the
///   hash reduces its inputs);
/// - 5 blob: field element `index` of the blob with versioned hash `h`,
///   `keccak256(h ‖ uint64 index)`, checked against the blob's KZG commitment
///   with the point-evaluation precompile (EIP-4844).
/// Local keys (type 1, the inputs of a disputed claim) are loaded by the game
/// that disputes it ([`loadLocalPart`]), under the key localized to the game
/// and the claim's context: what they hold is the game's word, no one else's.
contract PreimageOracle is IPreimageOracle {
    uint8 internal constant KEY_KECCAK256 = 2;
    uint8 internal constant KEY_POSEIDON = 3;
    uint8 internal constant KEY_BLOB = 5;

    // Domains of the state tree's hash (`crates/state/src/keys.rs`).
    uint256 internal constant DOMAIN_NODE = 1;
    uint256 internal constant DOMAIN_LEAF = 2;
    uint256 internal constant DOMAIN_LIMBS = 5;
    uint256 internal constant DOMAIN_ACCOUNT = 6;
    uint256 internal constant DOMAIN_STORAGE_VALUE = 7;

    address internal constant POINT_EVALUATION = address(0x0a);
    uint256 internal constant FIELD_ELEMENTS_PER_BLOB = 4096;
    uint256 internal constant BLS_MODULUS = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001;
    /// The scalar fields the state tree may hash in (`Curve::Bn254`, `Curve::Bls12_381`).
    uint256 internal constant BN254_R = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    /// 7^((BLS_MODULUS - 1) / 4096): the blob domain's root of unity. Field
    /// element i of a blob is its polynomial's value at ROOT_OF_UNITY^bitrev12(i).
    uint256 internal constant ROOT_OF_UNITY = 0x564c0a11a0f704f4fc3e8acfe0f8245f0ad1347b378fbf96e206da11a5d36306;

    /// The state tree's hash.
    IPoseidon public immutable poseidon;
    /// The modulus of its field (BN254's or BLS12-381's scalar field).
    uint256 public immutable fieldModulus;

    mapping(bytes32 key => mapping(uint256 offset => bytes32)) internal parts;
    /// The part's length plus one; 0 while the part is not loaded.
    mapping(bytes32 key => mapping(uint256 offset => uint256)) internal lengths;

    event PartLoaded(bytes32 indexed key, uint256 offset);

    error PartNotLoaded(bytes32 key, uint256 offset);
    error NotCanonical(uint256 word);
    error NotAPoseidonPreimage(uint256 length);
    error BlobIndexOutOfRange(uint256 index);
    error BlobCheckFailed();
    error WrongFieldModulus(uint256 modulus);

    /// `fieldModulus_` must be the modulus `poseidon_` reduces by: a larger one
    /// would let `word + modulus` load as a second preimage of a node.
    constructor(IPoseidon poseidon_, uint256 fieldModulus_) {
        if (
            (fieldModulus_ != BN254_R && fieldModulus_ != BLS_MODULUS)
                || poseidon_.hash2(0, fieldModulus_, 0) != poseidon_.hash2(0, 0, 0)
        ) revert WrongFieldModulus(fieldModulus_);
        poseidon = poseidon_;
        fieldModulus = fieldModulus_;
    }

    /// @inheritdoc IPreimageOracle
    function readPart(bytes32 key, uint256 offset) external view returns (bytes32 part, uint256 len) {
        uint256 l = lengths[key][offset];
        if (l == 0) revert PartNotLoaded(key, offset);
        return (parts[key][offset], l - 1);
    }

    /// Whether the part at `offset` of `key`'s stream is loaded.
    function isLoaded(bytes32 key, uint256 offset) external view returns (bool) {
        return lengths[key][offset] != 0;
    }

    /// Loads the part at `offset` of the stream of `preimage`, under its
    /// keccak256 key. The part is read from calldata: loading costs one copy of
    /// the preimage (to hash it), as posting it did.
    function loadKeccak256Part(uint256 offset, bytes calldata preimage) external returns (bytes32 key) {
        key = _typed(KEY_KECCAK256, keccak256(preimage));
        uint256 streamLength = preimage.length + 8;
        if (offset >= streamLength) {
            _put(key, offset, bytes32(0), 0);
            return key;
        }
        uint256 len = streamLength - offset;
        if (len > 32) len = 32;
        if (offset >= 8) {
            _put(key, offset, bytes32(preimage[offset - 8:offset - 8 + len]), len);
        } else {
            uint256 head = preimage.length < 32 ? preimage.length : 32;
            _store(key, offset, preimage[0:head], preimage.length);
        }
    }

    /// Loads the part at `offset` of local input `ident` of the claim
    /// `localContext` names, for the caller (the game): the stream of `data`,
    /// under `LocalKey.localize(ident, msg.sender, localContext)`, the key the
    /// VM reads when the game steps it.
    function loadLocalPart(bytes32 ident, bytes32 localContext, uint256 offset, bytes calldata data)
        external
        returns (bytes32 key)
    {
        key = LocalKey.localize(ident, msg.sender, localContext);
        _store(key, offset, data, data.length);
    }

    /// Loads the part at `offset` of the stream of a Poseidon preimage (a tree
    /// node, an account or a storage leaf value), under its Poseidon key.
    function loadPoseidonPart(uint256 offset, bytes calldata preimage) external returns (bytes32 key) {
        uint256 h;
        if (preimage.length == 65) {
            uint256 a = _canonical(uint256(bytes32(preimage[1:33])));
            uint256 b = _canonical(uint256(bytes32(preimage[33:65])));
            uint8 tag = uint8(preimage[0]);
            if (tag == 1) {
                h = poseidon.hash2(DOMAIN_NODE, a, b);
            } else if (tag == 2) {
                h = poseidon.hash2(DOMAIN_LEAF, a, b);
            } else {
                revert NotAPoseidonPreimage(preimage.length);
            }
        } else if (preimage.length == 96) {
            uint256 nonce = uint256(bytes32(preimage[0:32]));
            if (nonce >> 64 != 0) revert NotCanonical(nonce);
            uint256 balance = _limbs(DOMAIN_LIMBS, uint256(bytes32(preimage[32:64])));
            uint256 code = _limbs(DOMAIN_LIMBS, uint256(bytes32(preimage[64:96])));
            h = poseidon.hash2(DOMAIN_ACCOUNT, poseidon.hash2(DOMAIN_LIMBS, nonce, balance), code);
        } else if (preimage.length == 32) {
            h = _limbs(DOMAIN_STORAGE_VALUE, uint256(bytes32(preimage)));
        } else {
            revert NotAPoseidonPreimage(preimage.length);
        }
        key = _typed(KEY_POSEIDON, bytes32(h));
        _store(key, offset, preimage, preimage.length);
    }

    /// Loads the part at `offset` of the stream of field element `index` of the
    /// blob whose versioned hash is `versionedHash`: `element` is checked to be
    /// the blob's value at its point of the blob domain with `proof` against
    /// `commitment` (the precompile also checks the commitment is the versioned
    /// hash's).
    function loadBlobPart(
        bytes32 versionedHash,
        uint256 index,
        bytes32 element,
        bytes calldata commitment,
        bytes calldata proof,
        uint256 offset
    ) external returns (bytes32 key) {
        if (index >= FIELD_ELEMENTS_PER_BLOB) revert BlobIndexOutOfRange(index);
        (bool ok, bytes memory out) = POINT_EVALUATION.staticcall(
            abi.encodePacked(versionedHash, evaluationPoint(index), element, commitment, proof)
        );
        if (!ok || out.length != 64 || uint256(bytes32(out)) != FIELD_ELEMENTS_PER_BLOB) {
            revert BlobCheckFailed();
        }
        key = _typed(KEY_BLOB, keccak256(abi.encodePacked(versionedHash, uint64(index))));
        _store(key, offset, abi.encodePacked(element), 32);
    }

    /// The point of the blob domain where field element `index` is the blob's
    /// value: ROOT_OF_UNITY^bitrev12(index) (the bit-reversed order of EIP-4844).
    function evaluationPoint(uint256 index) public pure returns (uint256 z) {
        uint256 e = 0;
        for (uint256 i = 0; i < 12; i++) {
            e = (e << 1) | ((index >> i) & 1);
        }
        z = 1;
        uint256 base = ROOT_OF_UNITY;
        while (e != 0) {
            if (e & 1 == 1) z = mulmod(z, base, BLS_MODULUS);
            base = mulmod(base, base, BLS_MODULUS);
            e >>= 1;
        }
    }

    /// `P(domain; hi, lo)` of a 256-bit value's two 128-bit limbs.
    function _limbs(uint256 domain, uint256 value) internal view returns (uint256) {
        return poseidon.hash2(domain, value >> 128, value & type(uint128).max);
    }

    function _canonical(uint256 word) internal view returns (uint256) {
        if (word >= fieldModulus) revert NotCanonical(word);
        return word;
    }

    function _typed(uint8 kind, bytes32 h) internal pure returns (bytes32) {
        return bytes32((uint256(h) & ~(uint256(0xff) << 248)) | (uint256(kind) << 248));
    }

    /// Stores the part at `offset` of the stream `uint64(length) ‖ preimage`:
    /// 32 bytes, zero past the stream's end, and how many are in the stream.
    /// `preimage` may be the preimage's first bytes only, enough for the part.
    function _store(bytes32 key, uint256 offset, bytes memory preimage, uint256 length) internal {
        bytes memory stream = abi.encodePacked(uint64(length), preimage);
        uint256 streamLength = length + 8;
        bytes32 part;
        uint256 len;
        if (offset < streamLength) {
            len = streamLength - offset;
            if (len > 32) len = 32;
            assembly {
                part := mload(add(add(stream, 32), offset))
            }
            if (len < 32) {
                part &= bytes32(~(type(uint256).max >> (8 * len)));
            }
        }
        _put(key, offset, part, len);
    }

    function _put(bytes32 key, uint256 offset, bytes32 part, uint256 len) internal {
        parts[key][offset] = part;
        lengths[key][offset] = len + 1;
        emit PartLoaded(key, offset);
    }
}
