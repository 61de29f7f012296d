/* Unit tests of the Smarthome class list, clip names and protocol splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "data.h"

static void class_list_is_complete_and_unique(void **state)
{
    for (int i = 0; i < SMARTHOME_NUM_CLASSES; i++) {
        assert_int_equal(smarthome_class_index(smarthome_classes[i]), i);
        for (int j = i + 1; j < SMARTHOME_NUM_CLASSES; j++)
            assert_string_not_equal(smarthome_classes[i], smarthome_classes[j]);
    }
    assert_int_equal(smarthome_class_index("Dance"), -ENOENT);
}

static void cross_view_uses_19_classes(void **state)
{
    int cv = 0;
    for (int i = 0; i < SMARTHOME_NUM_CLASSES; i++) {
        assert_true(smarthome_protocol_has_class(SMARTHOME_CS, i));
        cv += smarthome_protocol_has_class(SMARTHOME_CV2, i);
    }
    assert_int_equal(cv, SMARTHOME_NUM_CV_CLASSES);
    assert_false(smarthome_protocol_has_class(SMARTHOME_CV1, smarthome_class_index("Cook.Cut")));
    assert_true(smarthome_protocol_has_class(SMARTHOME_CV1, smarthome_class_index("Walk")));
}

static void clip_name_parses_fields(void **state)
{
    struct smarthome_clip_name name;
    struct errbuf err = {0};
    assert_int_equal(
        smarthome_clip_name_parse("/data/mp4/Cook.Cleandishes_p02_r00_v02_c03.mp4", &name, &err),
        0);
    assert_string_equal(name.activity, "Cook.Cleandishes");
    assert_int_equal(name.class_index, 0);
    assert_int_equal(name.subject, 2);
    assert_int_equal(name.repetition, 0);
    assert_int_equal(name.take, 2);
    assert_int_equal(name.camera, 3);

    /* Without an extension, and the pose-cache extension. */
    assert_int_equal(smarthome_clip_name_parse("Walk_p25_r01_v11_c07", &name, &err), 0);
    assert_int_equal(name.subject, 25);
    assert_int_equal(smarthome_clip_name_parse("Walk_p25_r01_v11_c07.pose", &name, &err), 0);
    assert_int_equal(name.camera, 7);
}

static void clip_name_errors_name_the_field(void **state)
{
    static const struct {
        const char *path, *needle;
    } bad[] = {
        {"Dance_p02_r00_v02_c03.mp4", "unknown activity 'Dance'"},
        {"Walk_x02_r00_v02_c03.mp4", "subject field 'x02'"},
        {"Walk_p02_r00_v02_cam3.mp4", "camera field 'cam3'"},
        {"Walk_p02_r00.mp4", "expected <Activity>"},
        {"", "empty"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct smarthome_clip_name name = {.subject = 77};
        struct errbuf err = {0};
        assert_int_equal(smarthome_clip_name_parse(bad[i].path, &name, &err), -EINVAL);
        assert_non_null(strstr(err.msg, bad[i].needle));
        assert_int_equal(name.subject, 77); /* untouched on failure */
    }
}

static void protocols_split_clips(void **state)
{
    struct smarthome_clip_name name;
    assert_int_equal(smarthome_clip_name_parse("Walk_p02_r00_v02_c03.mp4", &name, NULL), 0);
    assert_int_equal(smarthome_clip_split(SMARTHOME_CS, &name), SMARTHOME_SPLIT_TEST);
    assert_int_equal(smarthome_clip_split(SMARTHOME_CV1, &name), SMARTHOME_SPLIT_NONE);
    assert_int_equal(smarthome_clip_split(SMARTHOME_CV2, &name), SMARTHOME_SPLIT_TRAIN);

    assert_int_equal(smarthome_clip_name_parse("Walk_p05_r00_v02_c02.mp4", &name, NULL), 0);
    assert_int_equal(smarthome_clip_split(SMARTHOME_CS, &name), SMARTHOME_SPLIT_NONE);
    assert_int_equal(smarthome_clip_split(SMARTHOME_CV1, &name), SMARTHOME_SPLIT_TEST);

    /* Cook.Cut is not a cross-view class. */
    assert_int_equal(smarthome_clip_name_parse("Cook.Cut_p03_r00_v02_c01.mp4", &name, NULL), 0);
    assert_int_equal(smarthome_clip_split(SMARTHOME_CV1, &name), SMARTHOME_SPLIT_NONE);
}

static void cs_validation_is_about_five_percent_and_stable(void **state)
{
    int validation = 0, train = 0;
    for (int take = 0; take < 100; take++)
        for (int rep = 0; rep < 20; rep++) {
            char path[96];
            struct smarthome_clip_name name;
            snprintf(path, sizeof(path), "Drink.Fromcup_p%02d_r%02d_v%02d_c01.mp4",
                     (take % 2) ? 3 : 12, rep, take);
            assert_int_equal(smarthome_clip_name_parse(path, &name, NULL), 0);
            enum smarthome_split split = smarthome_clip_split(SMARTHOME_CS, &name);
            assert_int_equal(split, smarthome_clip_split(SMARTHOME_CS, &name));
            validation += split == SMARTHOME_SPLIT_VALIDATION;
            train += split == SMARTHOME_SPLIT_TRAIN;
        }
    assert_int_equal(validation + train, 2000);
    /* 5% of 2000 is 100; a hash split lands near it. */
    assert_in_range(validation, 60, 140);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(class_list_is_complete_and_unique),
        cmocka_unit_test(cross_view_uses_19_classes),
        cmocka_unit_test(clip_name_parses_fields),
        cmocka_unit_test(clip_name_errors_name_the_field),
        cmocka_unit_test(protocols_split_clips),
        cmocka_unit_test(cs_validation_is_about_five_percent_and_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
