/* SPDX-License-Identifier: MIT */
/* zcperf --probe: what zc_probe() learned by trying the calls here. */
#include <stdio.h>
#include <string.h>

#include "report.h"

static void print_errno(const char *name, int err)
{
	if (err)
		printf("%-20s %d (%s)\n", name, err, strerror(err));
	else
		printf("%-20s 0\n", name);
}

int run_probe(const struct cfg *cfg)
{
	struct zc_probe p;
	const char *name;
	struct json j;
	uint32_t bit;
	int r;

	r = zc_probe(&p);
	if (r)
		fatal("zc_probe", -r);
	if (cfg->json) {
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_version(&j);
		json_str(&j, "role", "probe");
		json_obj_begin(&j, "features");
		for (bit = 1; bit; bit <<= 1) {
			name = zc_probe_feature_name(bit);
			if (name)
				json_bool(&j, name, p.features & bit);
		}
		json_obj_end(&j);
		json_u64(&j, "features_mask", p.features);
		json_u64(&j, "rx_struct_len", p.rx_struct_len);
		json_i64(&j, "rx_errno", p.rx_errno);
		json_str(&j, "rx_error",
			 p.rx_errno ? strerror(p.rx_errno) : NULL);
		json_i64(&j, "uring_errno", p.uring_errno);
		json_str(&j, "uring_error",
			 p.uring_errno ? strerror(p.uring_errno) : NULL);
		json_u64(&j, "page_size", p.page_size);
		json_obj_end(&j);
		json_done(&j);
		return 0;
	}
	printf("zcnet %s on Linux %s, page size %u\n", zc_version(),
	       kernel_release(), p.page_size);
	for (bit = 1; bit; bit <<= 1) {
		name = zc_probe_feature_name(bit);
		if (name)
			printf("%-20s %s\n", name,
			       p.features & bit ? "yes" : "no");
	}
	printf("%-20s %u\n", "rx_struct_len", p.rx_struct_len);
	print_errno("rx_errno", p.rx_errno);
	print_errno("uring_errno", p.uring_errno);
	return 0;
}
