/* The key table of the learning configuration and the key machinery: every declared key is well formed, its
 * default parses and passes its own check, values round-trip through format and parse, ranges and words are
 * enforced with messages that name the key, and the family defaults are the table's values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bg_config.h"

static const bg_key_t *key(const char *section, const char *name)
{
    const bg_key_t *k = bg_keys_find(bg_config_keys, bg_config_n_keys, section, name);
    assert_non_null(k);
    return k;
}

/* Every entry: a help text, no duplicate, a storage size that matches its type, words where a choice needs them. */
static void test_table_well_formed(void **state)
{
    (void)state;
    assert_true(bg_config_n_keys > 60);
    for (size_t i = 0; i < bg_config_n_keys; i++) {
        const bg_key_t *k = &bg_config_keys[i];
        assert_non_null(k->help);
        assert_true(strlen(k->help) > 5);
        assert_true(k->off + k->size <= sizeof(bg_config_t));
        for (size_t j = 0; j < i; j++)
            if (!strcmp(k->section, bg_config_keys[j].section) && !strcmp(k->name, bg_config_keys[j].name))
                fail_msg("%s.%s declared twice", k->section, k->name);
        switch (k->type) {
        case BG_KEY_SIZE:
            assert_int_equal(k->size, sizeof(size_t));
            break;
        case BG_KEY_U64:
            assert_int_equal(k->size, sizeof(uint64_t));
            break;
        case BG_KEY_DOUBLE:
            assert_int_equal(k->size, sizeof(double));
            break;
        case BG_KEY_BOOL:
            assert_int_equal(k->size, sizeof(int));
            break;
        case BG_KEY_CHOICE:
            assert_int_equal(k->size, sizeof(int));
            assert_non_null(k->words);
            assert_non_null(k->words[0].word);
            break;
        case BG_KEY_STRING:
        case BG_KEY_PATH:
            assert_true(k->size >= 16);
            break;
        case BG_KEY_CUSTOM:
            assert_non_null(k->parse);
            assert_non_null(k->format);
            break;
        }
    }
}

/* Defaults parse and pass their check; every value formats to text that parses back to the same bytes. */
static void test_defaults_round_trip(void **state)
{
    (void)state;
    bg_config_t c, d;
    bg_config_default(&c);
    bg_err_t err;
    assert_int_equal(bg_config_check(&c, &err), BG_OK);
    assert_true(c.method.lr == 0.05 && c.method.eta == 0.1 && c.method.batch == 32);
    assert_string_equal(c.partition.name, "auto");
    assert_true(isnan(c.attack.z) && isnan(c.attack.payload));
    assert_int_equal(c.normalize, -1);
    /* a non-default value in every kind of key, then format -> parse into a fresh default config */
    c.method.lr = 0.123456789;
    c.model.n_hidden = 2;
    c.model.hidden[0] = 256;
    c.model.hidden[1] = 128;
    c.model.in_shape[0] = 3, c.model.in_shape[1] = 32, c.model.in_shape[2] = 32;
    c.attack.payload = -INFINITY;
    c.attack.z = 1.5;
    c.data_all = 1;
    c.grad_norm = 0;
    c.seed = 18446744073709551615ull;
    bg_config_default(&d);
    char buf[1200];
    for (size_t i = 0; i < bg_config_n_keys; i++) {
        const bg_key_t *k = &bg_config_keys[i];
        bg_key_format(k, &c, buf, sizeof buf);
        if (k->type == BG_KEY_PATH || (!buf[0] && k->type == BG_KEY_STRING))
            continue;   /* empty paths and names are "not set": nothing to parse */
        if (bg_key_set(k, &d, buf, NULL, &err) != BG_OK)
            fail_msg("%s.%s: '%s' does not parse back: %s", k->section, k->name, buf, err.msg);
    }
    assert_memory_equal(&c.model, &d.model, sizeof c.model);
    assert_memory_equal(&c.attack, &d.attack, sizeof c.attack);
    assert_true(d.method.lr == 0.123456789);
    assert_true(d.seed == c.seed && d.data_all == 1 && d.grad_norm == 0);
}

static void expect_reject(const char *section, const char *name, const char *v, int code, const char *frag)
{
    bg_config_t c;
    bg_config_default(&c);
    bg_err_t err;
    bg_err_clear(&err);
    int rc = bg_key_set(key(section, name), &c, v, NULL, &err);
    if (rc != code || !strstr(err.msg, frag))
        fail_msg("%s.%s = '%s': expected code %d and '%s', got %d: %s", section, name, v, code, frag, rc, err.msg);
    char full[96];
    snprintf(full, sizeof full, "%s.%s", section, name);
    assert_string_equal(err.key, full);
}

static void expect_accept(const char *section, const char *name, const char *v)
{
    bg_config_t c;
    bg_config_default(&c);
    bg_err_t err;
    if (bg_key_set(key(section, name), &c, v, NULL, &err) != BG_OK)
        fail_msg("%s.%s = '%s' rejected: %s", section, name, v, err.msg);
}

static void test_ranges_and_words(void **state)
{
    (void)state;
    expect_reject("method", "eta", "0", BG_EINVAL, "a number in (0, 1]");
    expect_accept("method", "eta", "1");
    expect_reject("method", "eta", "1.0001", BG_EINVAL, "(0, 1]");
    expect_reject("method", "server_beta", "1", BG_EINVAL, "[0, 1)");
    expect_reject("data", "test_fraction", "0", BG_EINVAL, "(0, 1)");
    expect_reject("method", "lr", "nan", BG_EINVAL, "> 0");
    expect_reject("method", "lr", "1e999", BG_EINVAL, "a number");
    expect_reject("method", "batch", "0", BG_EINVAL, "an integer >= 1");
    expect_reject("method", "batch", "-3", BG_EINVAL, "an integer");
    expect_reject("run", "rounds", "12x", BG_EINVAL, "non-negative integer");
    expect_reject("model", "reg", "l3", BG_EINVAL, "l2 or nonconvex");
    expect_reject("method", "init", "warm", BG_EINVAL, "clean, side_channel or scaled");
    expect_reject("attack", "payload", "7", BG_EINVAL, "nan, inf or -inf");
    expect_reject("run", "grad_norm", "maybe", BG_EINVAL, "true, false or auto");
    expect_reject("aggregator", "name", "krumm", BG_ENOTFOUND, "unknown aggregator 'krumm' (known: mean, cm");
    expect_reject("partition", "name", "random", BG_ENOTFOUND, "contiguous, auto");
    expect_reject("model", "hidden", "256,0", BG_EINVAL, "widths >= 1");
    expect_reject("model", "in_shape", "1,28", BG_EINVAL, "channels,height,width");
    expect_accept("attack", "z", "AUTO");
    expect_accept("partition", "name", "auto");
    expect_accept("data", "dataset", "fmnist");
    /* words are matched without case and stored canonically */
    bg_config_t c;
    bg_config_default(&c);
    bg_err_t err;
    char buf[64];
    assert_int_equal(bg_key_set(key("method", "lr_schedule"), &c, "Cosine", NULL, &err), BG_OK);
    assert_string_equal(bg_key_format(key("method", "lr_schedule"), &c, buf, sizeof buf), "cosine");
    assert_int_equal(bg_key_set(key("attack", "payload"), &c, "-INF", NULL, &err), BG_OK);
    assert_true(isinf(c.attack.payload) && c.attack.payload < 0);
}

/* A configuration filled by hand is checked by the same table, and the error names the key. */
static void test_check_by_hand(void **state)
{
    (void)state;
    bg_config_t c;
    bg_config_default(&c);
    bg_err_t err;
    c.method.eta = 0.0;
    assert_int_equal(bg_config_check(&c, &err), BG_EINVAL);
    assert_string_equal(err.key, "method.eta");
    bg_config_default(&c);
    c.method.init = 7;
    assert_int_equal(bg_config_check(&c, &err), BG_EINVAL);
    assert_string_equal(err.key, "method.init");
    bg_config_default(&c);
    snprintf(c.agg, sizeof c.agg, "nope");
    assert_int_equal(bg_config_check(&c, &err), BG_ENOTFOUND);
    assert_string_equal(err.key, "aggregator.name");
    bg_config_default(&c);
    c.agg_args.rfa_nu = NAN;
    assert_int_equal(bg_config_check(&c, &err), BG_EINVAL);
    assert_string_equal(err.key, "aggregator.rfa_nu");
}

/* The family defaults are the table's values (one source for both). */
static void test_family_defaults(void **state)
{
    (void)state;
    bg_config_t c;
    bg_config_default(&c);
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    const bg_agg_args_t *t = &c.agg_args;
    assert_true(a.f == t->f && a.rfa_iters == t->rfa_iters && a.rfa_nu == t->rfa_nu && a.rfa_tol == t->rfa_tol &&
                a.krum_power == t->krum_power && a.krum_m == t->krum_m && a.cc_tau == t->cc_tau &&
                a.cc_iters == t->cc_iters && a.bucket_s == t->bucket_s && a.clip_tau == t->clip_tau &&
                a.dnc_iters == t->dnc_iters && a.dnc_sub_dim == t->dnc_sub_dim &&
                a.dnc_filter_frac == t->dnc_filter_frac && a.mda_max_subsets == t->mda_max_subsets && !a.rng);
    bg_attack_cfg_t at;
    bg_attack_cfg_default(&at);
    assert_true(!strcmp(at.name, c.attack.name) && at.eps == c.attack.eps && isnan(at.z) &&
                at.alie_variance == c.attack.alie_variance && at.sigma == c.attack.sigma &&
                at.mimic_warmup == c.attack.mimic_warmup && isnan(at.payload));
    bg_comp_cfg_t cc;
    bg_comp_cfg_default(&cc);
    assert_true(cc.ratio == c.comp.ratio && cc.levels == c.comp.levels && cc.scaled == c.comp.scaled);
    bg_partition_cfg_t p;
    bg_partition_cfg_default(&p);
    assert_true(p.alpha == c.partition.alpha && p.k == c.partition.k && p.min_size == c.partition.min_size);
}

/* Registries: unique names, found by name, every named default exists in its family. */
static void test_registries(void **state)
{
    (void)state;
    const bg_registry_t *regs[] = {&bg_models,     &bg_methods, &bg_compressors, &bg_preaggregators,
                                   &bg_aggregators, &bg_attacks, &bg_datasets,    &bg_partitions};
    for (size_t r = 0; r < sizeof regs / sizeof regs[0]; r++) {
        size_t n = 0;
        for (; regs[r]->name_at(n); n++) {
            assert_int_equal(bg_registry_find(regs[r], regs[r]->name_at(n)), (long)n);
            assert_non_null(regs[r]->summary_at(n));
        }
        assert_true(n >= 2);
        assert_int_equal(bg_registry_find(regs[r], "no-such-thing"), -1);
    }
    assert_int_equal(bg_registry_find(&bg_datasets, "a9a"), 0);
    assert_true(bg_registry_find(&bg_partitions, "cifar-ref") >= 0);
}

static void test_strerror(void **state)
{
    (void)state;
    const int codes[] = {BG_OK, BG_EINVAL, BG_ENOMEM, BG_EIO, BG_EFORMAT, BG_ENOTFOUND, BG_ERANGE};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_true(strlen(bg_strerror(codes[i])) > 5);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(bg_strerror(codes[i]), bg_strerror(codes[j]));
    }
    assert_string_equal(bg_strerror(-99), "unknown error");
    assert_string_equal(bg_strerror(BG_ENOMEM), "out of memory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_well_formed), cmocka_unit_test(test_defaults_round_trip),
        cmocka_unit_test(test_ranges_and_words),  cmocka_unit_test(test_check_by_hand),
        cmocka_unit_test(test_family_defaults),   cmocka_unit_test(test_registries),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
