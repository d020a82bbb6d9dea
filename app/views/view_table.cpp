#include "app/views/attention_view.h"
#include "app/views/frequency_view.h"
#include "app/views/perplexity_view.h"
#include "app/views/relpos_view.h"
#include "app/views/retrieval_view.h"
#include "app/views/s2attn_view.h"
#include "app/views/story_view.h"
#include "app/views/sweep_view.h"
#include "app/views/token_view.h"
#include "app/views/view.h"

namespace ls::app {

namespace {
template <typename V>
View* make(AppState* state) {
  return new V(state);
}
}  // namespace

const std::vector<ViewRow>& view_table() {
  static const std::vector<ViewRow> rows = {
      {"story", QT_TRANSLATE_NOOP("MainWindow", "Story"), &make<StoryView>},
      {"frequencies", QT_TRANSLATE_NOOP("MainWindow", "Frequencies"), &make<FrequencyView>},
      {"relpos", QT_TRANSLATE_NOOP("MainWindow", "Rel. positions"), &make<RelposView>},
      {"attention", QT_TRANSLATE_NOOP("MainWindow", "Attention"), &make<AttentionView>},
      {"perplexity", QT_TRANSLATE_NOOP("MainWindow", "Perplexity"), &make<PerplexityView>},
      {"token", QT_TRANSLATE_NOOP("MainWindow", "Token"), &make<TokenView>},
      {"sweep", QT_TRANSLATE_NOOP("MainWindow", "Loss vs n"), &make<SweepView>},
      {"retrieval", QT_TRANSLATE_NOOP("MainWindow", "Retrieval"), &make<RetrievalView>},
      {"s2attn", QT_TRANSLATE_NOOP("MainWindow", "S2-Attn"), &make<S2AttnView>},
  };
  return rows;
}

}  // namespace ls::app
