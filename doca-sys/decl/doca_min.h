/*
 * doca_min.h -- the DOCA 3.3 declarations engine::doca uses, written by
 * psp-gateway for type-checking only. NOT NVIDIA's headers.
 *
 * doca-sys runs bindgen over this file only when no DOCA SDK is installed
 * (no DOCA_DIR, no pkg-config doca-flow), so that the DOCA Flow backend
 * keeps type-checking in CI; then nothing is linked and no DOCA function
 * is ever called. Where the SDK is installed, doca-sys binds the SDK's own
 * headers (wrapper.h) and never reads this file.
 *
 * Reference release: DOCA 3.3 (3.3.0109). Every declaration below states,
 * in a comment, the real header it mirrors. For every function the backend
 * calls, and every struct it fills in or passes, this file declares what
 * that header declares: the same names, argument order and types, every
 * struct member in the header's order (members the backend never touches
 * included, so that bindgen numbers the anonymous unions and structs
 * __bindgen_anon_N exactly as it does over the SDK), and the same enum
 * values. Declarations of the same C API are facts about it; the comments
 * and layout of this file are our own. Declared are only the symbols
 * engine::doca uses (directly, or as the type of a member of a struct it
 * uses), the teardown calls that go with them (doca_flow_destroy,
 * doca_flow_port_stop, doca_flow_pipe_destroy, doca_dev_close) and a few
 * constants of the same headers that the code and its comments cite.
 *
 * Differences from the SDK that remain, on purpose:
 * - The DOCA_STABLE / DOCA_EXPERIMENTAL attributes (doca_compat.h) are
 *   left out: they only mark symbols for the linker and the compiler's
 *   warnings.
 * - doca_ctsd_flow.h's versioning macros (doca_flow_match ->
 *   doca_flow_match_v1, doca_flow_init -> doca_flow_init_v1, ...) are
 *   written as plain object-like macros, to the same effect: bindgen sees
 *   the _v1 structs and functions, as it does over the SDK.
 * - doca_error.h: only the codes this project names. The 3.3 doca_error.h
 *   is not in the vendored include directory we read; the values are those
 *   of NVIDIA's public doca_error.h, which 3.3 keeps (codes are only ever
 *   appended).
 */

#ifndef PSPGW_DOCA_MIN_H
#define PSPGW_DOCA_MIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#ifdef __linux__
#include <linux/types.h>
#endif

/* ==== doca_types.h ===================================================== */

/* doca_types.h: the big-endian integer types (__be16/32/64 on Linux). */
#ifdef __linux__
typedef __be16 doca_be16_t;
typedef __be32 doca_be32_t;
typedef __be64 doca_be64_t;
#else
typedef uint16_t doca_be16_t;
typedef uint32_t doca_be32_t;
typedef uint64_t doca_be64_t;
#endif

/* ==== doca_ctsd_flow.h ================================================= */

/* doca_ctsd_flow.h (included by doca_flow.h): with LIB_FLOW_VERSION 1, each
 * versioned struct, union and function name is a macro for its _v1 name,
 * so the structs bindgen sees and the symbols libdoca_flow exports are the
 * _v1 ones. The same mapping here (written as plain object-like macros,
 * where the SDK goes through doca_flow_X_versioned_mid(LIB_FLOW_VERSION)).
 * doca-sys re-exports each _v1 item under its unversioned name. */
#define doca_flow_action_desc doca_flow_action_desc_v1
#define doca_flow_action_descs doca_flow_action_descs_v1
#define doca_flow_actions doca_flow_actions_v1
#define doca_flow_crypto doca_flow_crypto_v1
#define doca_flow_crypto_action doca_flow_crypto_action_v1
#define doca_flow_crypto_encap_action doca_flow_crypto_encap_action_v1
#define doca_flow_crypto_key_cfg doca_flow_crypto_key_cfg_v1
#define doca_flow_desc_field doca_flow_desc_field_v1
#define doca_flow_encap_action doca_flow_encap_action_v1
#define doca_flow_fwd doca_flow_fwd_v1
#define doca_flow_header_eth doca_flow_header_eth_v1
#define doca_flow_header_eth_vlan doca_flow_header_eth_vlan_v1
#define doca_flow_header_format doca_flow_header_format_v1
#define doca_flow_header_geneve doca_flow_header_geneve_v1
#define doca_flow_header_ib_bth doca_flow_header_ib_bth_v1
#define doca_flow_header_icmp doca_flow_header_icmp_v1
#define doca_flow_header_ip4 doca_flow_header_ip4_v1
#define doca_flow_header_ip6 doca_flow_header_ip6_v1
#define doca_flow_header_l4_port doca_flow_header_l4_port_v1
#define doca_flow_header_psp doca_flow_header_psp_v1
#define doca_flow_header_roce_v2 doca_flow_header_roce_v2_v1
#define doca_flow_header_tcp doca_flow_header_tcp_v1
#define doca_flow_header_udp doca_flow_header_udp_v1
#define doca_flow_match doca_flow_match_v1
#define doca_flow_match_condition doca_flow_match_condition_v1
#define doca_flow_meta doca_flow_meta_v1
#define doca_flow_monitor doca_flow_monitor_v1
#define doca_flow_nat64_action doca_flow_nat64_action_v1
#define doca_flow_ordered_list doca_flow_ordered_list_v1
#define doca_flow_ordered_list_element doca_flow_ordered_list_element_v1
#define doca_flow_parser_meta doca_flow_parser_meta_v1
#define doca_flow_push_action doca_flow_push_action_v1
#define doca_flow_push_vlan_action doca_flow_push_vlan_action_v1
#define doca_flow_resource_decap_cfg doca_flow_resource_decap_cfg_v1
#define doca_flow_resource_encap_cfg doca_flow_resource_encap_cfg_v1
#define doca_flow_resource_ipsec_sa_cfg doca_flow_resource_ipsec_sa_cfg_v1
#define doca_flow_resource_meter_cfg doca_flow_resource_meter_cfg_v1
#define doca_flow_resource_psp_cfg doca_flow_resource_psp_cfg_v1
#define doca_flow_resource_query doca_flow_resource_query_v1
#define doca_flow_resource_rss_cfg doca_flow_resource_rss_cfg_v1
#define doca_flow_shared_resource_cfg doca_flow_shared_resource_cfg_v1
#define doca_flow_tun doca_flow_tun_v1
#define doca_flow_geneve_option doca_flow_geneve_option_v1
#define doca_flow_init doca_flow_init_v1
#define doca_flow_pipe_cfg_set_match doca_flow_pipe_cfg_set_match_v1
#define doca_flow_pipe_create doca_flow_pipe_create_v1
#define doca_flow_pipe_basic_add_entry doca_flow_pipe_basic_add_entry_v1
#define doca_flow_pipe_basic_update_entry doca_flow_pipe_basic_update_entry_v1
#define doca_flow_pipe_control_add_entry doca_flow_pipe_control_add_entry_v1
#define doca_flow_pipe_hash_add_entry doca_flow_pipe_hash_add_entry_v1
#define doca_flow_pipe_ordered_list_add_entry doca_flow_pipe_ordered_list_add_entry_v1
#define doca_flow_pipe_cfg_set_ordered_lists doca_flow_pipe_cfg_set_ordered_lists_v1
#define doca_flow_pipe_cfg_set_actions doca_flow_pipe_cfg_set_actions_v1
#define doca_flow_pipe_cfg_set_monitor doca_flow_pipe_cfg_set_monitor_v1
#define doca_flow_resource_query_entry doca_flow_resource_query_entry_v1
#define doca_flow_resource_query_pipe_miss doca_flow_resource_query_pipe_miss_v1
#define doca_flow_port_shared_resource_set_cfg doca_flow_port_shared_resource_set_cfg_v1

/* ==== doca_error.h ===================================================== */

/* doca_error.h: typedef enum doca_error { ... } doca_error_t (subset). */
typedef enum doca_error {
	DOCA_SUCCESS = 0,
	DOCA_ERROR_UNKNOWN = 1,
	DOCA_ERROR_NOT_PERMITTED = 2,
	DOCA_ERROR_IN_USE = 3,
	DOCA_ERROR_NOT_SUPPORTED = 4,
	DOCA_ERROR_AGAIN = 5,
	DOCA_ERROR_INVALID_VALUE = 6,
	DOCA_ERROR_NO_MEMORY = 7,
	DOCA_ERROR_INITIALIZATION = 8,
	DOCA_ERROR_TIME_OUT = 9,
	DOCA_ERROR_NOT_FOUND = 16,
	DOCA_ERROR_DRIVER = 21,
	DOCA_ERROR_ALREADY_EXIST = 23,
	DOCA_ERROR_FULL = 24,
	DOCA_ERROR_EMPTY = 25,
	DOCA_ERROR_TOO_BIG = 27,
} doca_error_t;

/* doca_error.h: doca_error_get_descr. */
const char *doca_error_get_descr(doca_error_t error);

/* ==== doca_dev.h ======================================================= */

/* doca_dev.h: opaque device and device-info handles. */
struct doca_devinfo;
struct doca_dev;

/* doca_dev.h: DOCA_DEVINFO_PCI_ADDR_SIZE ("XXXX:XX:XX.X" and its NUL). */
#define DOCA_DEVINFO_PCI_ADDR_SIZE 13

/* doca_dev.h: doca_devinfo_create_list. */
doca_error_t doca_devinfo_create_list(struct doca_devinfo ***dev_list, uint32_t *nb_devs);
/* doca_dev.h: doca_devinfo_destroy_list. */
doca_error_t doca_devinfo_destroy_list(struct doca_devinfo **dev_list);
/* doca_dev.h: doca_dev_open. */
doca_error_t doca_dev_open(struct doca_devinfo *devinfo, struct doca_dev **dev);
/* doca_dev.h: doca_dev_close. */
doca_error_t doca_dev_close(struct doca_dev *dev);
/* doca_dev.h: doca_devinfo_get_pci_addr_str. */
doca_error_t doca_devinfo_get_pci_addr_str(const struct doca_devinfo *devinfo, char *pci_addr_str);

/* ==== doca_flow_net.h ================================================== */

/* doca_flow_net.h: the constants used. */
#define DOCA_FLOW_ETHER_ADDR_LEN (6)
#define DOCA_FLOW_PSP_DEFAULT_PORT (1000)
#define DOCA_FLOW_ETHER_TYPE_IPV4 (0x0800)
#define DOCA_FLOW_ETHER_TYPE_IPV6 (0x86DD)
#define DOCA_FLOW_ETHER_TYPE_ARP (0x0806)
#define DOCA_FLOW_PSP_HEADER_LEN (6 * sizeof(doca_be32_t))
#define DOCA_FLOW_GENEVE_OPT_LEN_MAX 63
#define DOCA_FLOW_MPLS_LABELS_MAX 5
#define DOCA_FLOW_IB_BTH_DST_QP_LEN 3
#define DOCA_FLOW_IB_BTH_PSN_LEN 3
/* doca_flow_net.h: DOCA_FLOW_CRYPTO_HEADER_LEN_MAX, the same expression
 * (Ethernet, VLANs, IPv4 with options, UDP, PSP: 114 bytes). */
#define DOCA_FLOW_CRYPTO_HEADER_LEN_MAX \
	(DOCA_FLOW_ETHER_ADDR_LEN * 2 + sizeof(doca_be16_t) + sizeof(doca_be16_t) * 2 * 2 + sizeof(doca_be32_t) * 15 + \
	 sizeof(doca_be32_t) * 2 + DOCA_FLOW_PSP_HEADER_LEN)

/* doca_flow_net.h: struct doca_flow_header_eth_vlan. */
struct doca_flow_header_eth_vlan {
	doca_be16_t tci;
};

/* doca_flow_net.h: enum doca_flow_l3_type. */
enum doca_flow_l3_type {
	DOCA_FLOW_L3_TYPE_NONE = 0,
	DOCA_FLOW_L3_TYPE_IP4,
	DOCA_FLOW_L3_TYPE_IP6,
};

/* doca_flow_net.h: struct doca_flow_header_eth. */
struct doca_flow_header_eth {
	uint8_t src_mac[DOCA_FLOW_ETHER_ADDR_LEN];
	uint8_t dst_mac[DOCA_FLOW_ETHER_ADDR_LEN];
	doca_be16_t type;
};

/* doca_flow_net.h: enum doca_flow_l4_type_ext. */
enum doca_flow_l4_type_ext {
	DOCA_FLOW_L4_TYPE_EXT_NONE = 0,
	DOCA_FLOW_L4_TYPE_EXT_TCP,
	DOCA_FLOW_L4_TYPE_EXT_UDP,
	DOCA_FLOW_L4_TYPE_EXT_ICMP,
	DOCA_FLOW_L4_TYPE_EXT_ICMP6,
	DOCA_FLOW_L4_TYPE_EXT_TRANSPORT,
	DOCA_FLOW_L4_TYPE_EXT_ROCE_V2,
};

/* doca_flow_net.h: struct doca_flow_header_ib_bth. */
struct doca_flow_header_ib_bth {
	uint8_t opcode;
	uint8_t sempt;
	doca_be16_t pkey;
	uint8_t flags0;
	uint8_t dest_qp[DOCA_FLOW_IB_BTH_DST_QP_LEN];
	uint8_t flags1;
	uint8_t psn[DOCA_FLOW_IB_BTH_PSN_LEN];
};

/* doca_flow_net.h: struct doca_flow_header_l4_port. */
struct doca_flow_header_l4_port {
	doca_be16_t src_port;
	doca_be16_t dst_port;
};

/* doca_flow_net.h: struct doca_flow_header_udp. */
struct doca_flow_header_udp {
	struct doca_flow_header_l4_port l4_port;
};

/* doca_flow_net.h: struct doca_flow_header_roce_v2. */
struct doca_flow_header_roce_v2 {
	struct doca_flow_header_udp udp;
	struct doca_flow_header_ib_bth bth;
};

/* doca_flow_net.h: struct doca_flow_header_tcp. */
struct doca_flow_header_tcp {
	struct doca_flow_header_l4_port l4_port;
	uint8_t data_offset;
	uint8_t flags;
	doca_be32_t seq_num;
	doca_be32_t ack_num;
};

/* doca_flow_net.h: struct doca_flow_header_icmp. */
struct doca_flow_header_icmp {
	uint8_t type;
	uint8_t code;
	doca_be16_t ident;
};

/* doca_flow_net.h: struct doca_flow_header_ip4. */
struct doca_flow_header_ip4 {
	doca_be32_t src_ip;
	doca_be32_t dst_ip;
	uint8_t version_ihl;
	uint8_t dscp_ecn;
	doca_be16_t total_len;
	doca_be16_t identification;
	doca_be16_t flags_fragment_offset;
	uint8_t next_proto;
	uint8_t ttl;
};

/* doca_flow_net.h: struct doca_flow_header_ip6. */
struct doca_flow_header_ip6 {
	doca_be32_t src_ip[4];
	doca_be32_t dst_ip[4];
	uint8_t traffic_class;
	doca_be32_t flow_label;
	doca_be16_t payload_len;
	uint8_t next_proto;
	uint8_t hop_limit;
};

/* doca_flow_net.h: struct doca_flow_header_mpls. */
struct doca_flow_header_mpls {
	doca_be32_t label;
};

/* doca_flow_net.h: struct doca_flow_header_geneve. */
struct doca_flow_header_geneve {
	uint8_t ver_opt_len;
	uint8_t o_c;
	doca_be16_t next_proto;
	doca_be32_t vni;
};

/* doca_flow_net.h: union doca_flow_geneve_option. */
union doca_flow_geneve_option {
	struct {
		doca_be16_t class_id;
		uint8_t type;
		uint8_t length;
	};
	doca_be32_t data;
};

/* doca_flow_net.h: struct doca_flow_header_psp. */
struct doca_flow_header_psp {
	uint8_t nexthdr;
	uint8_t hdrextlen;
	uint8_t res_cryptofst;
	uint8_t s_d_ver_v;
	doca_be32_t spi;
	doca_be64_t iv;
	doca_be64_t vc;
};

/* doca_flow_net.h: enum doca_flow_tun_type. */
enum doca_flow_tun_type {
	DOCA_FLOW_TUN_NONE = 0,
	DOCA_FLOW_TUN_VXLAN,
	DOCA_FLOW_TUN_GTPU,
	DOCA_FLOW_TUN_GRE,
	DOCA_FLOW_TUN_ESP,
	DOCA_FLOW_TUN_MPLS_O_UDP,
	DOCA_FLOW_TUN_GENEVE,
	DOCA_FLOW_TUN_PSP,
	DOCA_FLOW_TUN_IP_IN_IP,
	DOCA_FLOW_TUN_MAX,
};

/* doca_flow_net.h: enum doca_flow_tun_ext_vxlan_type. */
enum doca_flow_tun_ext_vxlan_type {
	DOCA_FLOW_TUN_EXT_VXLAN_STANDARD = 0,
	DOCA_FLOW_TUN_EXT_VXLAN_GPE,
	DOCA_FLOW_TUN_EXT_VXLAN_GBP,
};

/* doca_flow_net.h: enum doca_flow_tun_ext_gre_type. */
enum doca_flow_tun_ext_gre_type {
	DOCA_FLOW_TUN_EXT_GRE_STANDARD = 0,
	DOCA_FLOW_TUN_EXT_GRE_NVGRE,
};

/* doca_flow_net.h: struct doca_flow_tun. The union's anonymous structs, in
 * order: VXLAN, GRE, GTP, ESP, MPLS, GENEVE, PSP (the seventh). */
struct doca_flow_tun {
	enum doca_flow_tun_type type;
	union {
		struct {
			enum doca_flow_tun_ext_vxlan_type vxlan_type;
			union {
				struct {
					uint8_t vxlan_gpe_flags;
					uint8_t vxlan_gpe_next_protocol;
				};
				struct {
					doca_be16_t vxlan_gbp_group_policy_id;
				};
			};
			doca_be32_t vxlan_tun_id;
			uint8_t vxlan_tun_rsvd1;
		};
		struct {
			enum doca_flow_tun_ext_gre_type gre_type;
			doca_be16_t protocol;
			union {
				struct {
					bool key_present;
					doca_be32_t gre_key;
				};
				struct {
					doca_be32_t nvgre_vs_id;
					uint8_t nvgre_flow_id;
				};
			};
		};
		struct {
			doca_be32_t gtp_teid;
			uint8_t gtp_next_ext_hdr_type;
			uint8_t gtp_ext_psc_qfi;
		};
		struct {
			doca_be32_t esp_spi;
			doca_be32_t esp_sn;
		};
		struct {
			struct doca_flow_header_mpls mpls[DOCA_FLOW_MPLS_LABELS_MAX];
		};
		struct {
			struct doca_flow_header_geneve geneve;
			union doca_flow_geneve_option geneve_options[DOCA_FLOW_GENEVE_OPT_LEN_MAX];
		};
		struct {
			struct doca_flow_header_psp psp;
		};
	};
};

/* ==== doca_flow_crypto.h =============================================== */

/* doca_flow_crypto.h: opaque port and SPI/key bulk. */
struct doca_flow_port;
struct doca_flow_crypto_psp_spi_key_bulk;

/* doca_flow_crypto.h: enum doca_flow_crypto_resource_type. */
enum doca_flow_crypto_resource_type {
	DOCA_FLOW_CRYPTO_RESOURCE_NONE = 0,
	DOCA_FLOW_CRYPTO_RESOURCE_IPSEC_SA,
	DOCA_FLOW_CRYPTO_RESOURCE_PSP,
};

/* doca_flow_crypto.h: enum doca_flow_crypto_action_type. */
enum doca_flow_crypto_action_type {
	DOCA_FLOW_CRYPTO_ACTION_NONE = 0,
	DOCA_FLOW_CRYPTO_ACTION_ENCRYPT,
	DOCA_FLOW_CRYPTO_ACTION_DECRYPT,
};

/* doca_flow_crypto.h: enum doca_flow_crypto_encap_action_type. */
enum doca_flow_crypto_encap_action_type {
	DOCA_FLOW_CRYPTO_REFORMAT_NONE = 0,
	DOCA_FLOW_CRYPTO_REFORMAT_ENCAP,
	DOCA_FLOW_CRYPTO_REFORMAT_DECAP,
};

/* doca_flow_crypto.h: enum doca_flow_crypto_encap_net_type (PSP_TUNNEL is
 * 7, after the six ESP types). */
enum doca_flow_crypto_encap_net_type {
	DOCA_FLOW_CRYPTO_HEADER_NONE = 0,
	DOCA_FLOW_CRYPTO_HEADER_ESP_TUNNEL,
	DOCA_FLOW_CRYPTO_HEADER_ESP_OVER_IPV4,
	DOCA_FLOW_CRYPTO_HEADER_ESP_OVER_IPV6,
	DOCA_FLOW_CRYPTO_HEADER_UDP_ESP_OVER_IPV4,
	DOCA_FLOW_CRYPTO_HEADER_UDP_ESP_OVER_IPV6,
	DOCA_FLOW_CRYPTO_HEADER_ESP_OVER_LAN,
	DOCA_FLOW_CRYPTO_HEADER_PSP_TUNNEL,
	DOCA_FLOW_CRYPTO_HEADER_PSP_OVER_IPV4,
	DOCA_FLOW_CRYPTO_HEADER_PSP_OVER_IPV6,
	DOCA_FLOW_CRYPTO_HEADER_NON_ESP_MARKER
};

/* doca_flow_crypto.h: enum doca_flow_crypto_key_type. */
enum doca_flow_crypto_key_type {
	DOCA_FLOW_CRYPTO_KEY_128,
	DOCA_FLOW_CRYPTO_KEY_256,
};

/* doca_flow_crypto.h: enum doca_flow_crypto_icv_len. */
enum doca_flow_crypto_icv_len {
	DOCA_FLOW_CRYPTO_ICV_LENGTH_8,
	DOCA_FLOW_CRYPTO_ICV_LENGTH_12,
	DOCA_FLOW_CRYPTO_ICV_LENGTH_16,
};

/* doca_flow_crypto.h: enum doca_flow_crypto_replay_win_size. */
enum doca_flow_crypto_replay_win_size {
	DOCA_FLOW_CRYPTO_REPLAY_WIN_SIZE_32,
	DOCA_FLOW_CRYPTO_REPLAY_WIN_SIZE_64,
	DOCA_FLOW_CRYPTO_REPLAY_WIN_SIZE_128,
	DOCA_FLOW_CRYPTO_REPLAY_WIN_SIZE_256,
};

/* doca_flow_crypto.h: enum doca_flow_crypto_sn_offload_type. */
enum doca_flow_crypto_sn_offload_type {
	DOCA_FLOW_CRYPTO_SN_OFFLOAD_INC,
	DOCA_FLOW_CRYPTO_SN_OFFLOAD_AR,
};

/* doca_flow_crypto.h: struct doca_flow_crypto_key_cfg. */
struct doca_flow_crypto_key_cfg {
	enum doca_flow_crypto_key_type key_type;
	uint32_t *key;
};

/* doca_flow_crypto.h: doca_flow_crypto_psp_master_key_rotate. */
doca_error_t doca_flow_crypto_psp_master_key_rotate(struct doca_flow_port *port);
/* doca_flow_crypto.h: doca_flow_crypto_psp_spi_key_bulk_alloc. */
doca_error_t doca_flow_crypto_psp_spi_key_bulk_alloc(struct doca_flow_port *port,
						     enum doca_flow_crypto_key_type key_type,
						     uint32_t nr_spi_keys,
						     struct doca_flow_crypto_psp_spi_key_bulk **spi_key_bulk);
/* doca_flow_crypto.h: doca_flow_crypto_psp_spi_key_bulk_generate. */
doca_error_t doca_flow_crypto_psp_spi_key_bulk_generate(struct doca_flow_crypto_psp_spi_key_bulk *spi_key_bulk);
/* doca_flow_crypto.h: doca_flow_crypto_psp_spi_key_bulk_get. */
doca_error_t doca_flow_crypto_psp_spi_key_bulk_get(struct doca_flow_crypto_psp_spi_key_bulk *spi_key_bulk,
						   uint32_t spi_key_idx,
						   uint32_t *spi,
						   uint32_t *key);
/* doca_flow_crypto.h: doca_flow_crypto_psp_spi_key_wipe. */
doca_error_t doca_flow_crypto_psp_spi_key_wipe(struct doca_flow_crypto_psp_spi_key_bulk *spi_key_bulk,
					       uint32_t spi_key_idx);
/* doca_flow_crypto.h: doca_flow_crypto_psp_spi_key_bulk_free. */
doca_error_t doca_flow_crypto_psp_spi_key_bulk_free(struct doca_flow_crypto_psp_spi_key_bulk *spi_key_bulk);

/* ==== doca_flow.h: handles, resources, entry flags and statuses ========= */

/* doca_flow.h: opaque handles. */
struct doca_dev_rep;
struct doca_flow_pipe;
struct doca_flow_pipe_entry;
struct doca_flow_target;
struct doca_flow_cfg;
struct doca_flow_port_cfg;
struct doca_flow_pipe_cfg;

/* doca_flow.h: enum doca_flow_resource_mode. */
enum doca_flow_resource_mode {
	DOCA_FLOW_RESOURCE_MODE_SYSTEM,
	DOCA_FLOW_RESOURCE_MODE_PORT,
};

/* doca_flow.h: enum doca_flow_resource (doca_flow_port_cfg_set_nr_resources). */
enum doca_flow_resource {
	DOCA_FLOW_RESOURCE_METER,
	DOCA_FLOW_RESOURCE_COUNTER,
	DOCA_FLOW_RESOURCE_RSS,
	DOCA_FLOW_RESOURCE_PSP,
	DOCA_FLOW_RESOURCE_ENCAP,
	DOCA_FLOW_RESOURCE_DECAP,
	DOCA_FLOW_RESOURCE_IPSEC_SA,
};

/* doca_flow.h: doca_flow_port_cfg_set_nr_resources. */
doca_error_t doca_flow_port_cfg_set_nr_resources(struct doca_flow_port_cfg *cfg,
						 enum doca_flow_resource resource,
						 uint32_t nr_resources);

/* doca_flow.h: enum doca_flow_shared_resource_type (no MIRROR since 3.0). */
enum doca_flow_shared_resource_type {
	DOCA_FLOW_SHARED_RESOURCE_METER,
	DOCA_FLOW_SHARED_RESOURCE_COUNTER,
	DOCA_FLOW_SHARED_RESOURCE_RSS,
	DOCA_FLOW_SHARED_RESOURCE_PSP,
	DOCA_FLOW_SHARED_RESOURCE_ENCAP,
	DOCA_FLOW_SHARED_RESOURCE_DECAP,
	DOCA_FLOW_SHARED_RESOURCE_IPSEC_SA,
};

/* doca_flow.h: enum doca_flow_entry_flags (was enum doca_flow_flags_type
 * with DOCA_FLOW_NO_WAIT = 0 / DOCA_FLOW_WAIT_FOR_BATCH = 1 before 3.0). */
enum doca_flow_entry_flags {
	DOCA_FLOW_ENTRY_FLAGS_NO_WAIT = (1u << 0),
	DOCA_FLOW_ENTRY_FLAGS_WAIT_FOR_BATCH = (1u << 1),
};

/* doca_flow.h: enum doca_flow_entry_op. */
enum doca_flow_entry_op {
	DOCA_FLOW_ENTRY_OP_ADD,
	DOCA_FLOW_ENTRY_OP_DEL,
	DOCA_FLOW_ENTRY_OP_UPD,
	DOCA_FLOW_ENTRY_OP_AGED,
};

/* doca_flow.h: enum doca_flow_entry_status. */
enum doca_flow_entry_status {
	DOCA_FLOW_ENTRY_STATUS_IN_PROCESS,
	DOCA_FLOW_ENTRY_STATUS_SUCCESS,
	DOCA_FLOW_ENTRY_STATUS_ERROR,
};

/* doca_flow.h: enum doca_flow_rss_hash_function. */
enum doca_flow_rss_hash_function {
	DOCA_FLOW_RSS_HASH_FUNCTION_TOEPLITZ,
	DOCA_FLOW_RSS_HASH_FUNCTION_SYMMETRIC_TOEPLITZ,
};

/* doca_flow.h: struct doca_flow_resource_rss_cfg (rss_hash_func since 3.x). */
struct doca_flow_resource_rss_cfg {
	uint32_t outer_flags;
	uint32_t inner_flags;
	uint16_t *queues_array;
	int nr_queues;
	enum doca_flow_rss_hash_function rss_hash_func;
};

/* doca_flow.h: doca_flow_entry_process_cb. */
typedef void (*doca_flow_entry_process_cb)(struct doca_flow_pipe_entry *entry,
					   uint16_t pipe_queue,
					   enum doca_flow_entry_status status,
					   enum doca_flow_entry_op op,
					   void *user_ctx);

/* doca_flow.h: enum doca_flow_pipe_type. */
enum doca_flow_pipe_type {
	DOCA_FLOW_PIPE_BASIC,
	DOCA_FLOW_PIPE_CONTROL,
	DOCA_FLOW_PIPE_LPM,
	DOCA_FLOW_PIPE_CT,
	DOCA_FLOW_PIPE_ACL,
	DOCA_FLOW_PIPE_ORDERED_LIST,
	DOCA_FLOW_PIPE_HASH,
};

/* doca_flow.h: enum doca_flow_pipe_domain. */
enum doca_flow_pipe_domain {
	DOCA_FLOW_PIPE_DOMAIN_DEFAULT = 0,
	DOCA_FLOW_PIPE_DOMAIN_SECURE_INGRESS,
	DOCA_FLOW_PIPE_DOMAIN_EGRESS,
	DOCA_FLOW_PIPE_DOMAIN_SECURE_EGRESS,
};

/* doca_flow.h: DOCA_FLOW_META_SCRATCH_PAD_MAX. */
#define DOCA_FLOW_META_SCRATCH_PAD_MAX 10

/* doca_flow.h: enum doca_flow_meter_color (a packed enum: one byte). */
enum __attribute__((__packed__)) doca_flow_meter_color {
	DOCA_FLOW_METER_COLOR_RED = 0,
	DOCA_FLOW_METER_COLOR_YELLOW,
	DOCA_FLOW_METER_COLOR_GREEN,
};

/* doca_flow.h: enum doca_flow_l2_meta. */
enum doca_flow_l2_meta {
	DOCA_FLOW_L2_META_NO_VLAN = 0,
	DOCA_FLOW_L2_META_MULTI_VLAN,
	DOCA_FLOW_L2_META_SINGLE_VLAN,
	DOCA_FLOW_L2_META_CUSTOM_VLAN,
};

/* doca_flow.h: enum doca_flow_l3_meta. */
enum doca_flow_l3_meta {
	DOCA_FLOW_L3_META_NONE = 0,
	DOCA_FLOW_L3_META_IPV4,
	DOCA_FLOW_L3_META_IPV6,
};

/* doca_flow.h: enum doca_flow_l4_meta. */
enum doca_flow_l4_meta {
	DOCA_FLOW_L4_META_NONE = 0,
	DOCA_FLOW_L4_META_TCP,
	DOCA_FLOW_L4_META_UDP,
	DOCA_FLOW_L4_META_ICMP,
	DOCA_FLOW_L4_META_ESP,
};

/* doca_flow.h: enum doca_flow_pipe_hash_map_algorithm. */
enum doca_flow_pipe_hash_map_algorithm {
	DOCA_FLOW_PIPE_HASH_MAP_ALGORITHM_HASH = 1 << 0,
	DOCA_FLOW_PIPE_HASH_MAP_ALGORITHM_RANDOM = 1 << 1,
	DOCA_FLOW_PIPE_HASH_MAP_ALGORITHM_IDENTITY = 1 << 2,
	DOCA_FLOW_PIPE_HASH_MAP_ALGORITHM_ROUND_ROBIN = 1 << 3,
	DOCA_FLOW_PIPE_HASH_MAP_ALGORITHM_FLOODING = 1 << 4,
	DOCA_FLOW_PIPE_HASH_MAP_ALGORITHM_SELECT_ENABLED = 1 << 5,
};

/* ==== doca_flow.h: match =============================================== */

/* doca_flow.h: struct doca_flow_meta (pkt_meta, then the scratch pad). */
struct doca_flow_meta {
	doca_be32_t pkt_meta;
	doca_be32_t u32[DOCA_FLOW_META_SCRATCH_PAD_MAX];
};

/* doca_flow.h: struct doca_flow_parser_meta (port_id since 3.0; port_meta
 * before). */
struct doca_flow_parser_meta {
	uint16_t port_id;
	doca_be16_t random;
	uint8_t ipsec_syndrome;
	uint8_t ipsec_ar_syndrome;
	uint8_t psp_syndrome;
	enum doca_flow_meter_color meter_color;
	enum doca_flow_l2_meta outer_l2_type;
	enum doca_flow_l3_meta outer_l3_type;
	enum doca_flow_l4_meta outer_l4_type;
	enum doca_flow_l2_meta inner_l2_type;
	enum doca_flow_l3_meta inner_l3_type;
	enum doca_flow_l4_meta inner_l4_type;
	uint8_t outer_ip_fragmented;
	uint8_t inner_ip_fragmented;
	uint8_t outer_l3_ok;
	uint8_t outer_ip4_checksum_ok;
	uint8_t outer_l4_ok;
	uint8_t outer_l4_checksum_ok;
	uint8_t inner_l3_ok;
	uint8_t inner_ip4_checksum_ok;
	uint8_t inner_l4_ok;
	uint8_t inner_l4_checksum_ok;
};

/* doca_flow.h: DOCA_FLOW_VLAN_MAX. */
#define DOCA_FLOW_VLAN_MAX 2

/* doca_flow.h: struct doca_flow_header_format. */
struct doca_flow_header_format {
	struct doca_flow_header_eth eth;
	uint16_t l2_valid_headers;
	struct doca_flow_header_eth_vlan eth_vlan[DOCA_FLOW_VLAN_MAX];
	enum doca_flow_l3_type l3_type;
	union {
		struct doca_flow_header_ip4 ip4;
		struct doca_flow_header_ip6 ip6;
	};
	enum doca_flow_l4_type_ext l4_type_ext;
	union {
		struct doca_flow_header_icmp icmp;
		struct doca_flow_header_udp udp;
		struct doca_flow_header_tcp tcp;
		struct doca_flow_header_l4_port transport;
		struct doca_flow_header_roce_v2 roce_v2;
	};
};

/* doca_flow.h: struct doca_flow_match. */
struct doca_flow_match {
	struct doca_flow_meta meta;
	struct doca_flow_parser_meta parser_meta;
	struct doca_flow_header_format outer;
	struct doca_flow_tun tun;
	struct doca_flow_header_format inner;
};

/* doca_flow.h: enum doca_flow_compare_op. */
enum doca_flow_compare_op {
	DOCA_FLOW_COMPARE_EQ,
	DOCA_FLOW_COMPARE_NE,
	DOCA_FLOW_COMPARE_LT,
	DOCA_FLOW_COMPARE_LE,
	DOCA_FLOW_COMPARE_GT,
	DOCA_FLOW_COMPARE_GE,
};

/* doca_flow.h: struct doca_flow_desc_field. */
struct doca_flow_desc_field {
	const char *field_string;
	uint32_t bit_offset;
};

/* doca_flow.h: struct doca_flow_match_condition (egress sampling:
 * DOCA_FLOW_COMPARE_LT on parser_meta.random). */
struct doca_flow_match_condition {
	enum doca_flow_compare_op operation;
	union {
		struct {
			struct doca_flow_desc_field a;
			struct doca_flow_desc_field b;
			uint32_t width;
		} field_op;
	};
};

/* ==== doca_flow.h: actions ============================================= */

/* doca_flow.h: struct doca_flow_encap_action. */
struct doca_flow_encap_action {
	struct doca_flow_header_format outer;
	struct doca_flow_tun tun;
};

/* doca_flow.h: struct doca_flow_push_vlan_action. */
struct doca_flow_push_vlan_action {
	doca_be16_t eth_type;
	struct doca_flow_header_eth_vlan vlan_hdr;
};

/* doca_flow.h: enum doca_flow_push_action_type. */
enum doca_flow_push_action_type {
	DOCA_FLOW_PUSH_ACTION_VLAN,
};

/* doca_flow.h: struct doca_flow_push_action. */
struct doca_flow_push_action {
	enum doca_flow_push_action_type type;
	union {
		struct doca_flow_push_vlan_action vlan;
	};
};

/* doca_flow.h: struct doca_flow_nat64_action. */
struct doca_flow_nat64_action {
	enum doca_flow_l3_type original_l3_type;
};

/* doca_flow.h: enum doca_flow_resource_type. */
enum doca_flow_resource_type {
	DOCA_FLOW_RESOURCE_TYPE_NONE,
	DOCA_FLOW_RESOURCE_TYPE_SHARED,
	DOCA_FLOW_RESOURCE_TYPE_NON_SHARED
};

/* doca_flow.h: DOCA_FLOW_PSP_DECRYPTION_ID. */
#define DOCA_FLOW_PSP_DECRYPTION_ID UINT32_MAX

/* doca_flow.h: struct doca_flow_crypto_action. */
struct doca_flow_crypto_action {
	enum doca_flow_crypto_action_type action_type;
	enum doca_flow_crypto_resource_type resource_type;
	union {
		struct {
			bool sn_en;
		} ipsec_sa;
	};
	uint32_t crypto_id;
};

/* doca_flow.h: struct doca_flow_crypto_encap_action. */
struct doca_flow_crypto_encap_action {
	enum doca_flow_crypto_encap_action_type action_type;
	enum doca_flow_crypto_encap_net_type net_type;
	uint16_t icv_size;
	uint16_t data_size;
	uint8_t encap_data[DOCA_FLOW_CRYPTO_HEADER_LEN_MAX];
};

/* doca_flow.h: struct doca_flow_resource_encap_cfg. */
struct doca_flow_resource_encap_cfg {
	bool is_l2;
	struct doca_flow_encap_action encap;
};

/* doca_flow.h: struct doca_flow_resource_decap_cfg. */
struct doca_flow_resource_decap_cfg {
	bool is_l2;
	struct doca_flow_header_eth eth;
	uint16_t l2_valid_headers;
	struct doca_flow_header_eth_vlan eth_vlan[DOCA_FLOW_VLAN_MAX];
};

/* doca_flow.h: struct doca_flow_actions (no action_idx member since 3.0:
 * the index is an argument of the add/update calls). */
struct doca_flow_actions {
	enum doca_flow_resource_type decap_type;
	union {
		struct doca_flow_resource_decap_cfg decap_cfg;
		uint32_t shared_decap_id;
	};
	bool pop_vlan;
	struct doca_flow_meta meta;
	struct doca_flow_parser_meta parser_meta;
	struct doca_flow_header_format outer;
	struct doca_flow_tun tun;
	enum doca_flow_resource_type encap_type;
	union {
		struct doca_flow_resource_encap_cfg encap_cfg;
		uint32_t shared_encap_id;
	};
	bool has_push;
	struct doca_flow_push_action push;
	struct doca_flow_nat64_action nat64;
	bool has_crypto_encap;
	struct doca_flow_crypto_encap_action crypto_encap;
	struct doca_flow_crypto_action crypto;
};

/* ==== doca_flow.h: forwarding ========================================== */

/* doca_flow.h: enum doca_flow_fwd_type. */
enum doca_flow_fwd_type {
	DOCA_FLOW_FWD_NONE = 0,
	DOCA_FLOW_FWD_RSS,
	DOCA_FLOW_FWD_PORT,
	DOCA_FLOW_FWD_PIPE,
	DOCA_FLOW_FWD_DROP,
	DOCA_FLOW_FWD_TARGET,
	DOCA_FLOW_FWD_ORDERED_LIST_PIPE,
	DOCA_FLOW_FWD_HASH_PIPE,
	DOCA_FLOW_FWD_CHANGEABLE = 100
};

/* doca_flow.h: enum doca_rss_type. */
enum doca_rss_type {
	DOCA_FLOW_RSS_IPV4 = (1 << 0),
	DOCA_FLOW_RSS_IPV6 = (1 << 1),
	DOCA_FLOW_RSS_UDP = (1 << 2),
	DOCA_FLOW_RSS_TCP = (1 << 3),
	DOCA_FLOW_RSS_ESP = (1 << 4),
	DOCA_FLOW_RSS_IPV4_SRC = (1 << 5),
	DOCA_FLOW_RSS_IPV4_DST = (1 << 6),
	DOCA_FLOW_RSS_IPV6_SRC = (1 << 7),
	DOCA_FLOW_RSS_IPV6_DST = (1 << 8),
	DOCA_FLOW_RSS_UDP_SRC = (1 << 9),
	DOCA_FLOW_RSS_UDP_DST = (1 << 10),
	DOCA_FLOW_RSS_TCP_SRC = (1 << 11),
	DOCA_FLOW_RSS_TCP_DST = (1 << 12),
	DOCA_FLOW_RSS_AUTO = (1 << 30),
};

/* doca_flow.h: struct doca_flow_fwd. The union's anonymous structs, in
 * order: RSS (__bindgen_anon_1), port (2), next pipe (3), then the named
 * ordered_list_pipe, the target (the 4th anonymous one) and the named
 * hash_pipe. */
struct doca_flow_fwd {
	enum doca_flow_fwd_type type;
	union {
		struct {
			enum doca_flow_resource_type rss_type;
			union {
				struct doca_flow_resource_rss_cfg rss;
				uint32_t shared_rss_id;
			};
		};
		struct {
			uint16_t port_id;
		};
		struct {
			struct doca_flow_pipe *next_pipe;
		};
		struct {
			struct doca_flow_pipe *pipe;
			uint32_t idx;
		} ordered_list_pipe;
		struct {
			struct doca_flow_target *target;
		};
		struct {
			struct doca_flow_pipe *pipe;
			enum doca_flow_pipe_hash_map_algorithm algorithm;
		} hash_pipe;
	};
};

/* ==== doca_flow.h: shared resources and monitor ======================== */

/* doca_flow.h: enum doca_flow_meter_algorithm_type. */
enum doca_flow_meter_algorithm_type {
	DOCA_FLOW_METER_ALGORITHM_TYPE_RFC2697,
	DOCA_FLOW_METER_ALGORITHM_TYPE_RFC2698,
	DOCA_FLOW_METER_ALGORITHM_TYPE_RFC4115,
};

/* doca_flow.h: enum doca_flow_meter_limit_type. */
enum doca_flow_meter_limit_type {
	DOCA_FLOW_METER_LIMIT_TYPE_BYTES = 0,
	DOCA_FLOW_METER_LIMIT_TYPE_PACKETS,
};

/* doca_flow.h: enum doca_flow_meter_color_mode. */
enum doca_flow_meter_color_mode {
	DOCA_FLOW_METER_COLOR_MODE_BLIND = 0,
	DOCA_FLOW_METER_COLOR_MODE_AWARE,
};

/* doca_flow.h: struct doca_flow_resource_meter_cfg. */
struct doca_flow_resource_meter_cfg {
	enum doca_flow_meter_limit_type limit_type;
	enum doca_flow_meter_color_mode color_mode;
	enum doca_flow_meter_algorithm_type alg;
	uint64_t cir;
	uint64_t cbs;
	union {
		struct {
			uint64_t ebs;
		} rfc2697;
		struct {
			uint64_t pir;
			uint64_t pbs;
		} rfc2698;
		struct {
			uint64_t eir;
			uint64_t ebs;
		} rfc4115;
	};
};

/* doca_flow.h: struct doca_flow_resource_psp_cfg. */
struct doca_flow_resource_psp_cfg {
	struct doca_flow_crypto_key_cfg key_cfg;
};

/* doca_flow.h: struct doca_flow_resource_ipsec_sa_cfg. */
struct doca_flow_resource_ipsec_sa_cfg {
	struct doca_flow_crypto_key_cfg key_cfg;
	uint32_t salt;
	uint64_t implicit_iv;
	enum doca_flow_crypto_icv_len icv_len;
	enum doca_flow_crypto_sn_offload_type sn_offload_type;
	enum doca_flow_crypto_replay_win_size win_size;
	bool esn_en;
	uint64_t sn_initial;
	uint32_t lifetime_threshold;
};

/* doca_flow.h: struct doca_flow_shared_resource_cfg (one anonymous union;
 * no domain member and no mirror_cfg in 3.x). */
struct doca_flow_shared_resource_cfg {
	union {
		struct doca_flow_resource_meter_cfg meter_cfg;
		struct doca_flow_resource_rss_cfg rss_cfg;
		struct doca_flow_resource_psp_cfg psp_cfg;
		struct doca_flow_resource_encap_cfg encap_cfg;
		struct doca_flow_resource_decap_cfg decap_cfg;
		struct doca_flow_resource_ipsec_sa_cfg ipsec_sa_cfg;
	};
};

/* doca_flow.h: struct doca_flow_monitor (no shared_mirror_id in 3.x). */
struct doca_flow_monitor {
	enum doca_flow_resource_type meter_type;
	union {
		struct {
			enum doca_flow_meter_limit_type limit_type;
			uint64_t cir;
			uint64_t cbs;
		} non_shared_meter;
		struct {
			uint32_t shared_meter_id;
			enum doca_flow_meter_color meter_init_color;
		} shared_meter;
	};

	enum doca_flow_resource_type counter_type;
	union {
		struct {
			uint32_t shared_counter_id;
		} shared_counter;
	};

	uint32_t aging_sec;
};

/* doca_flow.h: enum doca_flow_action_type. */
enum doca_flow_action_type {
	DOCA_FLOW_ACTION_AUTO = 0,
	DOCA_FLOW_ACTION_ADD,
	DOCA_FLOW_ACTION_COPY,
};

/* doca_flow.h: struct doca_flow_action_desc. */
struct doca_flow_action_desc {
	enum doca_flow_action_type type;
	union {
		struct {
			struct doca_flow_desc_field src;
			struct doca_flow_desc_field dst;
			uint32_t width;
		} field_op;
	};
};

/* doca_flow.h: struct doca_flow_action_descs (passed as NULL). */
struct doca_flow_action_descs {
	uint8_t nb_action_desc;
	struct doca_flow_action_desc *desc_array;
};

/* doca_flow.h: struct doca_flow_crypto (an ordered-list element's crypto
 * actions). */
struct doca_flow_crypto {
	bool has_crypto_encap;
	struct doca_flow_crypto_encap_action crypto_encap;
	struct doca_flow_crypto_action crypto;
};

/* doca_flow.h: enum doca_flow_ordered_list_element_type. */
enum doca_flow_ordered_list_element_type {
	DOCA_FLOW_ORDERED_LIST_ELEMENT_ACTIONS,
	DOCA_FLOW_ORDERED_LIST_ELEMENT_MONITOR,
	DOCA_FLOW_ORDERED_LIST_ELEMENT_NAT64,
	DOCA_FLOW_ORDERED_LIST_ELEMENT_CRYPTO,
};

/* doca_flow.h: struct doca_flow_ordered_list_element. */
struct doca_flow_ordered_list_element {
	enum doca_flow_ordered_list_element_type type;
	union {
		struct {
			struct doca_flow_actions *actions;
			struct doca_flow_actions *actions_mask;
			struct doca_flow_action_descs *action_descs;
		};
		struct doca_flow_monitor *monitor;
		struct doca_flow_nat64_action *nat64;
		struct doca_flow_crypto *crypto;
	};
};

/* doca_flow.h: struct doca_flow_ordered_list. */
struct doca_flow_ordered_list {
	uint32_t idx;
	uint32_t size;
	struct doca_flow_ordered_list_element *elements;
};

/* doca_flow.h: struct doca_flow_resource_query. */
struct doca_flow_resource_query {
	union {
		struct {
			uint64_t total_bytes;
			uint64_t total_pkts;
		} counter;
		struct {
			uint64_t current_sn;
		} ipsec_sa;
	};
};

/* ==== doca_flow.h: functions =========================================== */

/* doca_flow.h: doca_flow_init. */
doca_error_t doca_flow_init(struct doca_flow_cfg *cfg);
/* doca_flow.h: doca_flow_destroy. */
void doca_flow_destroy(void);
/* doca_flow.h: doca_flow_port_start. */
doca_error_t doca_flow_port_start(const struct doca_flow_port_cfg *cfg, struct doca_flow_port **port);
/* doca_flow.h: doca_flow_port_stop. */
doca_error_t doca_flow_port_stop(struct doca_flow_port *port);

/* doca_flow.h: doca_flow_pipe_create. */
doca_error_t doca_flow_pipe_create(const struct doca_flow_pipe_cfg *cfg,
				   const struct doca_flow_fwd *fwd,
				   const struct doca_flow_fwd *fwd_miss,
				   struct doca_flow_pipe **pipe);

/* doca_flow.h: doca_flow_pipe_basic_add_entry (3.0+; was
 * doca_flow_pipe_add_entry, without action_idx). */
doca_error_t doca_flow_pipe_basic_add_entry(uint16_t pipe_queue,
					    struct doca_flow_pipe *pipe,
					    const struct doca_flow_match *match,
					    uint8_t action_idx,
					    const struct doca_flow_actions *actions,
					    const struct doca_flow_monitor *monitor,
					    const struct doca_flow_fwd *fwd,
					    uint32_t flags,
					    void *usr_ctx,
					    struct doca_flow_pipe_entry **entry);

/* doca_flow.h: doca_flow_pipe_basic_update_entry (3.0+; was
 * doca_flow_pipe_update_entry). */
doca_error_t doca_flow_pipe_basic_update_entry(uint16_t pipe_queue,
					       struct doca_flow_pipe *pipe,
					       uint8_t action_idx,
					       const struct doca_flow_actions *actions,
					       const struct doca_flow_monitor *monitor,
					       const struct doca_flow_fwd *fwd,
					       uint32_t flags,
					       struct doca_flow_pipe_entry *entry);

/* doca_flow.h: doca_flow_pipe_control_add_entry (priority after monitor
 * in 3.x; it was the second argument before). */
doca_error_t doca_flow_pipe_control_add_entry(uint16_t pipe_queue,
					      struct doca_flow_pipe *pipe,
					      const struct doca_flow_match *match,
					      const struct doca_flow_match *match_mask,
					      const struct doca_flow_match_condition *condition,
					      const struct doca_flow_actions *actions,
					      const struct doca_flow_actions *actions_mask,
					      const struct doca_flow_action_descs *action_descs,
					      const struct doca_flow_monitor *monitor,
					      uint32_t priority,
					      const struct doca_flow_fwd *fwd,
					      void *usr_ctx,
					      struct doca_flow_pipe_entry **entry);

/* doca_flow.h: doca_flow_pipe_hash_add_entry (DOCA_EXPERIMENTAL; the _v1
 * symbol of doca_ctsd_flow.h). */
doca_error_t doca_flow_pipe_hash_add_entry(uint16_t pipe_queue,
					   struct doca_flow_pipe *pipe,
					   uint32_t entry_index,
					   uint8_t action_idx,
					   const struct doca_flow_actions *actions,
					   const struct doca_flow_monitor *monitor,
					   const struct doca_flow_fwd *fwd,
					   uint32_t flags,
					   void *usr_ctx,
					   struct doca_flow_pipe_entry **entry);

/* doca_flow.h: doca_flow_pipe_ordered_list_add_entry (DOCA_EXPERIMENTAL;
 * the _v1 symbol of doca_ctsd_flow.h). */
doca_error_t doca_flow_pipe_ordered_list_add_entry(uint16_t pipe_queue,
						   struct doca_flow_pipe *pipe,
						   uint32_t idx,
						   const struct doca_flow_ordered_list *ordered_list,
						   const struct doca_flow_fwd *fwd,
						   uint32_t flags,
						   void *user_ctx,
						   struct doca_flow_pipe_entry **entry);

/* doca_flow.h: doca_flow_pipe_remove_entry (was doca_flow_pipe_rm_entry). */
doca_error_t doca_flow_pipe_remove_entry(uint16_t pipe_queue, uint32_t flags, struct doca_flow_pipe_entry *entry);

/* doca_flow.h: doca_flow_pipe_destroy. */
void doca_flow_pipe_destroy(struct doca_flow_pipe *pipe);

/* doca_flow.h: doca_flow_resource_query_entry. */
doca_error_t doca_flow_resource_query_entry(struct doca_flow_pipe_entry *entry, struct doca_flow_resource_query *data);
/* doca_flow.h: doca_flow_resource_query_pipe_miss. */
doca_error_t doca_flow_resource_query_pipe_miss(struct doca_flow_pipe *pipe, struct doca_flow_resource_query *data);

/* doca_flow.h: doca_flow_entries_process. */
doca_error_t doca_flow_entries_process(struct doca_flow_port *port,
				       uint16_t pipe_queue,
				       uint64_t timeout,
				       uint32_t max_processed_entries);
/* doca_flow.h: doca_flow_pipe_entry_get_status. */
enum doca_flow_entry_status doca_flow_pipe_entry_get_status(struct doca_flow_pipe_entry *entry);

/* doca_flow.h: doca_flow_cfg_create. */
doca_error_t doca_flow_cfg_create(struct doca_flow_cfg **cfg);
/* doca_flow.h: doca_flow_cfg_destroy. */
doca_error_t doca_flow_cfg_destroy(struct doca_flow_cfg *cfg);
/* doca_flow.h: doca_flow_cfg_set_pipe_queues. */
doca_error_t doca_flow_cfg_set_pipe_queues(struct doca_flow_cfg *cfg, uint16_t pipe_queues);
/* doca_flow.h: doca_flow_cfg_set_mode_args. */
doca_error_t doca_flow_cfg_set_mode_args(struct doca_flow_cfg *cfg, const char *mode_args);
/* doca_flow.h: doca_flow_cfg_set_cb_entry_process. */
doca_error_t doca_flow_cfg_set_cb_entry_process(struct doca_flow_cfg *cfg, doca_flow_entry_process_cb cb);
/* doca_flow.h: doca_flow_cfg_set_resource_mode. */
doca_error_t doca_flow_cfg_set_resource_mode(struct doca_flow_cfg *cfg, const enum doca_flow_resource_mode mode);

/* doca_flow.h: doca_flow_port_cfg_create. */
doca_error_t doca_flow_port_cfg_create(struct doca_flow_port_cfg **cfg);
/* doca_flow.h: doca_flow_port_cfg_destroy. */
doca_error_t doca_flow_port_cfg_destroy(struct doca_flow_port_cfg *cfg);
/* doca_flow.h: doca_flow_port_cfg_set_dev. */
doca_error_t doca_flow_port_cfg_set_dev(struct doca_flow_port_cfg *cfg, struct doca_dev *dev);
/* doca_flow.h: doca_flow_port_cfg_set_port_id (3.0+; 2.9 and 2.10 took
 * the port through doca_flow_port_cfg_set_devargs). */
doca_error_t doca_flow_port_cfg_set_port_id(struct doca_flow_port_cfg *cfg, uint16_t port_id);

/* doca_flow.h: doca_flow_port_shared_resource_set_cfg (3.2+; was
 * doca_flow_shared_resource_set_cfg, without the port). */
doca_error_t doca_flow_port_shared_resource_set_cfg(struct doca_flow_port *port,
						    enum doca_flow_shared_resource_type type,
						    uint32_t shared_resource_id,
						    struct doca_flow_shared_resource_cfg *cfg);
/* doca_flow.h: doca_flow_port_shared_resource_get. */
doca_error_t doca_flow_port_shared_resource_get(struct doca_flow_port *port,
						enum doca_flow_shared_resource_type type,
						uint32_t *shared_resource_id);

/* doca_flow.h: doca_flow_pipe_cfg_create. */
doca_error_t doca_flow_pipe_cfg_create(struct doca_flow_pipe_cfg **cfg, struct doca_flow_port *port);
/* doca_flow.h: doca_flow_pipe_cfg_destroy. */
doca_error_t doca_flow_pipe_cfg_destroy(struct doca_flow_pipe_cfg *cfg);
/* doca_flow.h: doca_flow_pipe_cfg_set_match. */
doca_error_t doca_flow_pipe_cfg_set_match(struct doca_flow_pipe_cfg *cfg,
					  const struct doca_flow_match *match,
					  const struct doca_flow_match *match_mask);
/* doca_flow.h: doca_flow_pipe_cfg_set_actions. */
doca_error_t doca_flow_pipe_cfg_set_actions(struct doca_flow_pipe_cfg *cfg,
					    struct doca_flow_actions *const *actions,
					    struct doca_flow_actions *const *actions_masks,
					    struct doca_flow_action_descs *const *action_descs,
					    size_t nr_actions);
/* doca_flow.h: doca_flow_pipe_cfg_set_monitor. */
doca_error_t doca_flow_pipe_cfg_set_monitor(struct doca_flow_pipe_cfg *cfg, const struct doca_flow_monitor *monitor);
/* doca_flow.h: doca_flow_pipe_cfg_set_name. */
doca_error_t doca_flow_pipe_cfg_set_name(struct doca_flow_pipe_cfg *cfg, const char *name);
/* doca_flow.h: doca_flow_pipe_cfg_set_type. */
doca_error_t doca_flow_pipe_cfg_set_type(struct doca_flow_pipe_cfg *cfg, enum doca_flow_pipe_type type);
/* doca_flow.h: doca_flow_pipe_cfg_set_domain. */
doca_error_t doca_flow_pipe_cfg_set_domain(struct doca_flow_pipe_cfg *cfg, enum doca_flow_pipe_domain domain);
/* doca_flow.h: doca_flow_pipe_cfg_set_is_root. */
doca_error_t doca_flow_pipe_cfg_set_is_root(struct doca_flow_pipe_cfg *cfg, bool is_root);
/* doca_flow.h: doca_flow_pipe_cfg_set_nr_entries. */
doca_error_t doca_flow_pipe_cfg_set_nr_entries(struct doca_flow_pipe_cfg *cfg, uint32_t nr_entries);
/* doca_flow.h: doca_flow_pipe_cfg_set_miss_counter. */
doca_error_t doca_flow_pipe_cfg_set_miss_counter(struct doca_flow_pipe_cfg *cfg, bool miss_counter);

/* doca_flow.h: doca_flow_pipe_cfg_set_ordered_lists (the _v1 symbol of
 * doca_ctsd_flow.h). */
doca_error_t doca_flow_pipe_cfg_set_ordered_lists(struct doca_flow_pipe_cfg *cfg,
						  struct doca_flow_ordered_list *const *ordered_lists,
						  size_t nr_ordered_lists);

/* doca_flow.h: doca_flow_pipe_cfg_set_hash_map_algorithm (DOCA_EXPERIMENTAL;
 * algorithm_flags: enum doca_flow_pipe_hash_map_algorithm). */
doca_error_t doca_flow_pipe_cfg_set_hash_map_algorithm(struct doca_flow_pipe_cfg *cfg, uint32_t algorithm_flags);

#endif /* PSPGW_DOCA_MIN_H */
