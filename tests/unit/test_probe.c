/* SPDX-License-Identifier: MIT */
/*
 * zc_probe() on the running kernel. What the kernel supports differs
 * between machines (6.18 here, Debian's stock 6.1, older), so these tests
 * assert only that the answer is consistent with itself and with what the
 * library then does, never that a given feature is present.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "compat.h"
#include "internal.h"
#include "net.h"

/* Every ZC_PROBE_* bit the header defines. */
#define ALL_FEATURES                                                           \
	(ZC_PROBE_RX_ZEROCOPY | ZC_PROBE_RX_INQ_ERR | ZC_PROBE_RX_COPYBUF |    \
	 ZC_PROBE_RX_TLB_CLEAN_HINT | ZC_PROBE_RX_MSG_CONTROL |                \
	 ZC_PROBE_TX_TCP_ZEROCOPY | ZC_PROBE_TX_UDP_ZEROCOPY |                 \
	 ZC_PROBE_URING | ZC_PROBE_URING_SEND_ZC | ZC_PROBE_URING_SENDMSG_ZC | \
	 ZC_PROBE_URING_REPORT_USAGE)

static struct zc_probe P;

static int probe_once(void **state)
{
	return zc_probe(&P) == 0 ? 0 : -1;
}

static int has(uint32_t bit)
{
	return (P.features & bit) != 0;
}

static void test_probe_args(void **state)
{
	assert_int_equal(zc_probe(NULL), -EINVAL);
}

static void test_probe_basics(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned int i;
	uint32_t bit;

	assert_int_equal(P.page_size, (uint32_t)page);
	for (i = 0; i < ZC__ARRAY_SIZE(P.reserved); i++)
		assert_int_equal(P.reserved[i], 0);
	/* No bit the header does not define. */
	assert_int_equal(P.features & ~ALL_FEATURES, 0);
	for (bit = 1; bit & ALL_FEATURES; bit <<= 1)
		print_message("  %-20s %s\n", zc_probe_feature_name(bit),
			      has(bit) ? "yes" : "no");
	print_message("  rx_struct_len %u, rx_errno %d, uring_errno %d\n",
		      P.rx_struct_len, P.rx_errno, P.uring_errno);
}

/* The receive bits follow the struct length the kernel wrote back: each
 * later field implies the earlier ones (4.18, 5.7, 5.11, 5.12). */
static void test_probe_rx_consistent(void **state)
{
	if (!has(ZC_PROBE_RX_ZEROCOPY)) {
		assert_int_equal(P.rx_struct_len, 0);
		assert_int_not_equal(P.rx_errno, 0);
		assert_int_equal(P.features & (ZC_PROBE_RX_INQ_ERR |
					       ZC_PROBE_RX_COPYBUF |
					       ZC_PROBE_RX_TLB_CLEAN_HINT |
					       ZC_PROBE_RX_MSG_CONTROL),
				 0);
		return;
	}
	assert_int_equal(P.rx_errno, 0);
	assert_in_range(P.rx_struct_len, ZC__ZCR_LEN_BASE,
			sizeof(struct zc__tcp_zerocopy_receive));
	assert_int_equal(has(ZC_PROBE_RX_INQ_ERR),
			 P.rx_struct_len >= ZC__ZCR_LEN_INQ_ERR);
	assert_int_equal(has(ZC_PROBE_RX_COPYBUF),
			 P.rx_struct_len >= ZC__ZCR_LEN_COPYBUF);
	assert_int_equal(has(ZC_PROBE_RX_MSG_CONTROL),
			 P.rx_struct_len >= ZC__ZCR_LEN_FULL);
	/* The flags field came with the copybuf (5.11). */
	assert_int_equal(has(ZC_PROBE_RX_TLB_CLEAN_HINT),
			 has(ZC_PROBE_RX_COPYBUF));
	if (has(ZC_PROBE_RX_COPYBUF))
		assert_true(has(ZC_PROBE_RX_INQ_ERR));
	if (has(ZC_PROBE_RX_MSG_CONTROL))
		assert_true(has(ZC_PROBE_RX_COPYBUF));
}

static void test_probe_uring_consistent(void **state)
{
	if (!has(ZC_PROBE_URING)) {
		assert_int_not_equal(P.uring_errno, 0);
		assert_false(has(ZC_PROBE_URING_SEND_ZC) ||
			     has(ZC_PROBE_URING_SENDMSG_ZC) ||
			     has(ZC_PROBE_URING_REPORT_USAGE));
		return;
	}
	assert_int_equal(P.uring_errno, 0);
	if (has(ZC_PROBE_URING_REPORT_USAGE))
		assert_true(has(ZC_PROBE_URING_SEND_ZC));
}

/* SO_ZEROCOPY on a fresh socket: the probe's answer is the kernel's. */
static void test_probe_tx_matches_kernel(void **state)
{
	static const struct {
		int type;
		uint32_t bit;
	} kinds[] = {{SOCK_STREAM, ZC_PROBE_TX_TCP_ZEROCOPY},
		     {SOCK_DGRAM, ZC_PROBE_TX_UDP_ZEROCOPY}};
	unsigned int i;
	int fd, one = 1, ok;

	for (i = 0; i < ZC__ARRAY_SIZE(kinds); i++) {
		fd = socket(AF_INET, kinds[i].type, 0);
		assert_true(fd >= 0);
		ok = !setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one,
				 sizeof(one));
		close(fd);
		assert_int_equal(ok, has(kinds[i].bit));
	}
}

/* The library does what the probe says: a zero-copy handle can be made
 * exactly where receive zero-copy was found. */
static void test_probe_matches_rx_create(void **state)
{
	struct zc_rx_opts o = {.mode = ZC_RX_ZEROCOPY};
	struct zc_rx *rx = NULL;
	int fds[2], ret;

	assert_int_equal(zc__tcp_pair(fds, AF_INET), 0);
	ret = zc_rx_create(&rx, fds[0], &o);
	if (has(ZC_PROBE_RX_ZEROCOPY)) {
		assert_int_equal(ret, 0);
		assert_int_equal(zc_rx_mode(rx), ZC_RX_ZEROCOPY);
	} else {
		assert_true(ret < 0);
		assert_null(rx);
	}
	zc_rx_free(rx);
	o.mode = ZC_RX_AUTO;
	assert_int_equal(zc_rx_create(&rx, fds[0], &o), 0);
	assert_int_equal(zc_rx_mode(rx), has(ZC_PROBE_RX_ZEROCOPY)
						 ? ZC_RX_ZEROCOPY
						 : ZC_RX_COPY);
	zc_rx_free(rx);
	close(fds[0]);
	close(fds[1]);
}

static void test_probe_repeatable(void **state)
{
	struct zc_probe again;

	assert_int_equal(zc_probe(&again), 0);
	assert_int_equal(again.features, P.features);
	assert_int_equal(again.rx_struct_len, P.rx_struct_len);
}

static void test_feature_names(void **state)
{
	const char *names[32] = {0};
	unsigned int i, j;
	uint32_t bit;

	for (i = 0, bit = 1; bit & ALL_FEATURES; i++, bit <<= 1) {
		names[i] = zc_probe_feature_name(bit);
		assert_non_null(names[i]);
		assert_true(strlen(names[i]) > 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	assert_string_equal(zc_probe_feature_name(ZC_PROBE_RX_ZEROCOPY),
			    "rx_zerocopy");
	assert_null(zc_probe_feature_name(0));
	assert_null(zc_probe_feature_name(ZC_PROBE_RX_ZEROCOPY |
					  ZC_PROBE_RX_COPYBUF));
	assert_null(zc_probe_feature_name(1u << 31));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_args),
		cmocka_unit_test(test_probe_basics),
		cmocka_unit_test(test_probe_rx_consistent),
		cmocka_unit_test(test_probe_uring_consistent),
		cmocka_unit_test(test_probe_tx_matches_kernel),
		cmocka_unit_test(test_probe_matches_rx_create),
		cmocka_unit_test(test_probe_repeatable),
		cmocka_unit_test(test_feature_names),
	};

	return cmocka_run_group_tests_name("probe", tests, probe_once, NULL);
}
