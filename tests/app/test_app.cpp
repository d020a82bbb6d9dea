// The desktop app under the offscreen platform: every view renders for the
// bundled model, method changes move the plotted data as the math says, cancel is
// prompt, bad input leaves the app usable, exports and sessions work. Screenshots
// of every view are written to the build folder. The slots are in
// test_app_views.cpp, test_app_files.cpp and test_app_window.cpp.
#include "tests/app/app_test.h"

#include <QStandardPaths>

void AppTest::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);  // settings (recent files, the walkthrough) apart from the user's
  shots_ = QDir(LONGSCOPE_BUILD_DIR).filePath("screenshots");
  QDir().mkpath(shots_);
}

void AppTest::load(MainWindow& w, int length) {
  w.resize(1400, 900);
  w.show();
  w.open_model(kModel);
  w.open_document(kDoc);
  QVERIFY(wait_idle(w));
  QCOMPARE(w.state()->config.train_len, 512);
  w.set_methods({"rope", "yarn:factor=4", "rerope:window=256"});
  w.set_length(length);
  w.run_now();
  QVERIFY(wait_idle(w));
}

QTEST_MAIN(AppTest)
