#include "app/demos.h"

#include "app/app_state.h"

namespace ls::app {

const std::vector<Demo>& demos() {
  static const std::vector<Demo> all = {
      {"story", "Story: RoPE breaks beyond L (stories260K)", "models/stories260K.gguf", "documents/tinystories_1.txt",
       QString(AppState::kRopeStory).split(';'), 8, "story", false,
       "plain RoPE's mean loss rises from 1.27 nats inside L to 3.80 beyond it, while NTK-aware α=4, YaRN ×4 and "
       "ReRoPE w=L/2 + log-n stay within 0.15 nats of their loss inside L"},
      {"rope-twin", "Retrieval: the RoPE twin loses passkeys beyond L, ReRoPE keeps them", "models/twins/rope_twin.gguf",
       "documents/heldout_books.txt", {"rope", "rerope:window={L/2},logn=1"}, 4, "retrieval", true,
       "the RoPE twin (L = 256) finds every passkey at L and none at 2L, 4L or 8L with plain RoPE; ReRoPE w=L/2 + "
       "log-n finds 100 % at 2L and 4L and 95 % at 8L"},
      {"alibi-twin", "Retrieval: the ALiBi twin loses far keys, NTK-ALiBi brings them back",
       "models/twins/alibi_twin", "documents/heldout_books.txt", {"alibi", "ntk-alibi:a=8"}, 4, "retrieval", true,
       "plain ALiBi finds 100 % of the keys at L, 80 % at 2L, 40 % at 4L and 20 % at 8L; NTK-ALiBi (a = 8) finds "
       "100 %, 100 %, 100 % and 55 %"},
  };
  return all;
}

const Demo* find_demo(const QString& id) {
  for (const auto& d : demos())
    if (id == d.id) return &d;
  return nullptr;
}

}  // namespace ls::app
