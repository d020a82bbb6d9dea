// The family registry: one row per file in core/model/arch/.
#include <algorithm>

#include "core/model/arch/family.h"

namespace ls::arch {
namespace {

const Family* const kFamilies[] = {&kLlama, &kGemma, &kNeoX, &kBloom, &kMoe, &kGptOss};

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return !x.empty() && std::find(v.begin(), v.end(), x) != v.end();
}

std::string joined(std::vector<std::string> Family::*list) {
  std::string out;
  for (const Family* f : kFamilies)
    for (const std::string& x : f->*list) out += (out.empty() ? "" : ", ") + x;
  return out;
}

}  // namespace

const Family* family_for_hf(const HfName& name) {
  for (const Family* f : kFamilies)
    if (contains(f->hf_architectures, name.architecture) || contains(f->hf_model_types, name.model_type)) return f;
  return nullptr;
}

const Family* family_for_gguf(const std::string& architecture) {
  for (const Family* f : kFamilies)
    if (contains(f->gguf_architectures, architecture)) return f;
  return nullptr;
}

const Family* family_of(const std::string& member) {
  for (const Family* f : kFamilies)
    if (contains(f->members, member)) return f;
  return nullptr;
}

std::string supported_hf_architectures() { return joined(&Family::hf_architectures); }
std::string supported_gguf_architectures() { return joined(&Family::gguf_architectures); }

std::vector<std::pair<std::string, std::string>> table_rows(const TensorNames& names) {
  std::vector<std::pair<std::string, std::string>> rows;
  if (const auto* n = std::get_if<LlamaTensorNames>(&names)) {
    rows = {{"tok_embd", n->tok_embd}, {"out_norm", n->out_norm}, {"output", n->output}, {"attn_norm", n->attn_norm},
            {"wq", n->wq}, {"wk", n->wk}, {"wv", n->wv}, {"wo", n->wo}, {"ffn_norm", n->ffn_norm},
            {"w_gate", n->w_gate}, {"w_up", n->w_up}, {"w_down", n->w_down}, {"bq", n->bq}, {"bk", n->bk},
            {"bv", n->bv}, {"wqkv", n->wqkv}, {"w_gate_up", n->w_gate_up}, {"post_attn_norm", n->post_attn_norm},
            {"post_ffn_norm", n->post_ffn_norm}, {"q_norm", n->q_norm}, {"k_norm", n->k_norm},
            {"attn_norm_b", n->attn_norm_b}, {"ffn_norm_b", n->ffn_norm_b}, {"out_norm_b", n->out_norm_b},
            {"bqkv", n->bqkv}, {"bo", n->bo}, {"b_up", n->b_up}, {"b_down", n->b_down}, {"output_b", n->output_b},
            {"router", n->router}, {"exp_gate", n->exp_gate}, {"exp_up", n->exp_up}, {"exp_down", n->exp_down},
            {"sh_gate", n->sh_gate}, {"sh_up", n->sh_up}, {"sh_down", n->sh_down}, {"sh_router", n->sh_router},
            {"router_b", n->router_b}, {"exp_gate_b", n->exp_gate_b}, {"exp_up_b", n->exp_up_b},
            {"exp_down_b", n->exp_down_b}, {"attn_sinks", n->attn_sinks}};
  } else {
    const auto& b = std::get<BloomTensorNames>(names);
    rows = {{"tok_embd", b.tok_embd}, {"embd_norm", b.embd_norm}, {"embd_norm_b", b.embd_norm_b},
            {"out_norm", b.out_norm}, {"out_norm_b", b.out_norm_b}, {"output", b.output}, {"attn_norm", b.attn_norm},
            {"attn_norm_b", b.attn_norm_b}, {"qkv", b.qkv}, {"qkv_b", b.qkv_b}, {"wo", b.wo}, {"bo", b.bo},
            {"ffn_norm", b.ffn_norm}, {"ffn_norm_b", b.ffn_norm_b}, {"w_up", b.w_up}, {"b_up", b.b_up},
            {"w_down", b.w_down}, {"b_down", b.b_down}};
  }
  return rows;
}

Status build_weights(WeightBuilder& b, Model& model, const TensorNames& names) {
  if (const auto* n = std::get_if<LlamaTensorNames>(&names)) return build_llama_weights(b, model, *n);
  return build_bloom_weights(b, model, std::get<BloomTensorNames>(names));
}

}  // namespace ls::arch
