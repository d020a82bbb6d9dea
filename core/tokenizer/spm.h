// SentencePiece vocabularies: a .model file (sentencepiece_model.proto, read here
// from its wire format: Debian ships the library but no generated header) or the
// vocabulary a GGUF embeds (tokenizer.ggml.model = "llama"), turned into LongScope's
// BPE model: a pair of pieces may merge when their concatenation is a piece, the
// piece with the highest score first, leftmost among equals (sentencepiece
// bpe_model.cc; llama.cpp's llm_tokenizer_spm does the same on a GGUF).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/bpe.h"
#include "core/util/status.h"

namespace ls {

// Piece types as sentencepiece_model.proto and GGUF's token_type number them.
enum SpmType { kSpmNormal = 1, kSpmUnknown = 2, kSpmControl = 3, kSpmUserDefined = 4, kSpmUnused = 5, kSpmByte = 6 };

struct SpmModelProto {
  struct Piece {
    std::string text;
    float score = 0;
    int type = kSpmNormal;
  };
  std::vector<Piece> pieces;
  int model_type = 1;  // 1 unigram, 2 BPE, 3 word, 4 char
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  int unk_id = 0, bos_id = 1, eos_id = 2;
  std::string normalizer_name;
  bool has_charsmap = false;
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
};
Result<SpmModelProto> parse_spm_model(const std::string& bytes);

// The BPE model of a SentencePiece vocabulary: merges from every split of every
// normal or user-defined piece into two pieces, ranked by the merged piece's score.
Result<std::unique_ptr<BpeModel>> spm_bpe_model(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                                                const std::vector<int>& types, int unk_id);

}  // namespace ls
