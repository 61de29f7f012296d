/* Unit tests of confusion matrices and the benchmark metric. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>

#include <cmocka.h>

#include "data.h"

static void metrics_on_an_imbalanced_set(void **state)
{
    struct confusion cm;
    assert_int_equal(confusion_init(&cm, 3), 0);
    /* Class 0: 90 samples, all right. Class 1: 10 samples, 5 right.
     * Class 2: no samples. A majority-class model scores high overall
     * accuracy, but the mean per-class accuracy shows the weak class. */
    for (int i = 0; i < 90; i++)
        assert_int_equal(confusion_add(&cm, 0, 0), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(confusion_add(&cm, 1, i < 5 ? 1 : 0), 0);
    assert_int_equal(confusion_total(&cm), 100);
    assert_true(fabs(confusion_accuracy(&cm) - 0.95) < 1e-12);
    assert_true(fabs(confusion_recall(&cm, 1) - 0.5) < 1e-12);
    assert_true(isnan(confusion_recall(&cm, 2)));

    int classes = -1;
    double mca = confusion_mean_class_accuracy(&cm, NULL, &classes);
    assert_int_equal(classes, 2); /* class 2 has no samples */
    assert_true(fabs(mca - 0.75) < 1e-12);

    bool scored[3] = {false, true, true};
    mca = confusion_mean_class_accuracy(&cm, scored, &classes);
    assert_int_equal(classes, 1);
    assert_true(fabs(mca - 0.5) < 1e-12);

    assert_int_equal(confusion_add(&cm, 3, 0), -EINVAL);
    assert_int_equal(confusion_add(&cm, 0, -1), -EINVAL);
    assert_int_equal(confusion_total(&cm), 100);

    confusion_reset(&cm);
    assert_int_equal(confusion_total(&cm), 0);
    assert_true(isnan(confusion_accuracy(&cm)));
    confusion_done(&cm);
    confusion_done(NULL);
    assert_int_equal(confusion_init(&cm, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics_on_an_imbalanced_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
