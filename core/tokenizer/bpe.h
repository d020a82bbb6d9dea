// The BPE model: a piece of text (one pre-tokenizer piece) becomes symbols — its
// bytes written in GPT-2's byte alphabet (byte-level BPE: GPT-2, Llama 3, Qwen,
// gpt-oss, Mistral's tekken) or its characters (SentencePiece-style BPE: Llama 2,
// Mistral, Gemma, Phi-3), an unknown character becoming its <0xXX> byte tokens or
// the unknown token — and adjacent symbols are merged, lowest rank first and
// leftmost among equals, until no pair of the merge table is left.
//
// Semantics as Hugging Face tokenizers' BPE model (models/bpe: merge_word,
// Word::merge_all with its (rank, position) min-heap; ignore_merges; byte_fallback;
// fuse_unk). SentencePiece's BPE (bpe_model.cc: the pair whose merged piece has the
// highest score, leftmost among equals) is the same algorithm with ranks taken from
// scores (tokenizer/spm.cpp). Merging is O(k log k) in the piece's symbols; a piece
// over 1 MiB is cut only where no token of the vocabulary can span the cut, so the
// ids never depend on a length limit.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/util/status.h"

namespace ls {

struct BpeMerge {
  int left = 0, right = 0;  // token ids
  int rank = 0;             // lower merges first; equal ranks merge left to right
  int result = 0;           // the merged token's id
};

// Per-call working memory (symbols, heap, a cache of pieces seen in this document).
struct BpeScratch {
  struct Symbol {
    int id, prev, next;
    bool alive;
  };
  std::vector<Symbol> syms;
  struct Pending {
    int rank, pos, result;
  };
  std::vector<Pending> heap;
  std::vector<int> ids, ranks, results;
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>> cache;  // piece → span of cache_ids
  std::vector<int> cache_ids;
  std::string key;
};

class BpeModel {
 public:
  struct Options {
    bool byte_level = false;     // symbols are bytes (tokens written in GPT-2's byte alphabet)
    bool byte_fallback = false;  // an unknown character becomes its <0xXX> tokens
    int unk_id = -1;             // the unknown token; -1: none (an unknown character is dropped)
    bool fuse_unk = false;       // consecutive unknown characters become one unknown token
    bool ignore_merges = false;  // a piece that is itself a token is taken whole
  };
  // `tokens`: each id's text in the model's alphabet ("" where an id has none).
  // `merges` refer to ids; they need not be sorted.
  static Result<std::unique_ptr<BpeModel>> create(std::vector<std::string> tokens, const std::vector<BpeMerge>& merges,
                                                  const Options& options);
  // Replaces the merges, before the model is first used (a model is made without
  // them first, so that its id_of() turns the merges' texts into ids without a
  // second vocabulary table).
  Status set_merges(const std::vector<BpeMerge>& merges);
  // An upper bound on the bytes a model of `n_tokens` tokens holding `token_bytes`
  // bytes of text and `n_merges` merges takes: the tokens, their one or two hash
  // tables with arenas, the merge table.
  static size_t memory_estimate(size_t n_tokens, size_t token_bytes, size_t n_merges, bool byte_level);
  ~BpeModel();
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids of `piece` (raw UTF-8 bytes; for a byte-level model, any bytes).
  Status encode(std::string_view piece, std::vector<int>& out, BpeScratch& scratch) const;

  int size() const { return (int)tokens_.size(); }
  const std::string& token(int id) const { return tokens_[(size_t)id]; }
  // The id of a token given in the model's alphabet, or -1.
  int id_of(std::string_view alphabet_text) const;
  const Options& options() const { return opt_; }
  // The raw bytes a token of a byte-level model stands for (its text otherwise).
  std::string token_bytes(int id) const;

 private:
  BpeModel() = default;
  struct StrMap;
  struct PairMap;
  int lookup(std::string_view raw) const;  // a piece's id by its raw bytes, or -1
  void initial_symbols(std::string_view piece, std::vector<int>& ids) const;
  void merge(std::vector<int>& ids, BpeScratch& s) const;
  Status encode_word(std::string_view piece, std::vector<int>& out, BpeScratch& s) const;
  Status encode_long(std::string_view piece, std::vector<int>& out, BpeScratch& s) const;
  bool safe_cut(std::string_view piece, size_t at) const;

  Options opt_;
  std::vector<std::string> tokens_;
  std::unique_ptr<StrMap> ids_;      // alphabet text → id
  std::unique_ptr<StrMap> raw_ids_;  // byte-level: raw bytes → id
  std::unique_ptr<PairMap> merges_;
  int byte_id_[256];      // byte-level: the token of each byte's symbol (-1: none)
  int fallback_id_[256];  // <0xXX> tokens (-1: none)
  // Character (or byte) pairs that occur inside some token: a cut between any other
  // pair cannot change the ids (built on first use, for pieces over 1 MiB).
  mutable std::once_flag pairs_once_;
  mutable std::vector<uint64_t> inner_pairs_;  // sorted (left << 32 | right)
};

// GPT-2's byte alphabet (bytes_to_unicode): the UTF-8 text of byte b's symbol.
std::string byte_symbol(unsigned char b);
// The raw bytes of a text in that alphabet; false when a character is not a byte symbol.
bool alphabet_to_bytes(std::string_view text, std::string& out);

}  // namespace ls
