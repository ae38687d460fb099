/* SPDX-License-Identifier: MIT */
/*
 * A program built against an installed zcnet, the way a user would:
 *
 *   cc hello.c $(pkg-config --cflags --libs zcnet)
 *
 * tests/integration/install_pkgconfig.sh builds it dynamically and
 * statically. It prints the version of the library it runs with and what
 * zc_probe() found, and fails when the header it was compiled with and
 * the library it runs with disagree.
 */
#include <stdio.h>
#include <string.h>

#include <zcnet.h>

int main(void)
{
	struct zc_probe p;
	char header[32];
	uint32_t bit;
	int ret;

	snprintf(header, sizeof(header), "%d.%d.%d", ZC_VERSION_MAJOR,
		 ZC_VERSION_MINOR, ZC_VERSION_PATCH);
	printf("zcnet %s (header %s)\n", zc_version(), header);
	if (strcmp(zc_version(), header)) {
		fprintf(stderr, "hello: library %s, header %s\n", zc_version(),
			header);
		return 1;
	}
	ret = zc_probe(&p);
	if (ret < 0) {
		fprintf(stderr, "hello: zc_probe: %s\n", strerror(-ret));
		return 1;
	}
	printf("page size %u, tcp_zerocopy_receive %u bytes, features:",
	       p.page_size, p.rx_struct_len);
	for (bit = 1; bit; bit <<= 1)
		if (p.features & bit)
			printf(" %s", zc_probe_feature_name(bit));
	printf("\n");
	return 0;
}
