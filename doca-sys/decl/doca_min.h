/*
 * doca_min.h -- minimal declarations written from public DOCA documentation;
 * NOT NVIDIA's headers; for type-checking only.
 *
 * psp-gateway writes this file itself, from the names, members and
 * signatures that NVIDIA's public DOCA Flow programming guide, API reference
 * and the public PSP Gateway application guide show. It declares only what
 * engine::doca calls or fills in. It is never compiled into a program that
 * runs: doca-sys runs bindgen over it when no DOCA SDK is installed, so that
 * the DOCA Flow backend keeps type-checking in CI, and then links nothing.
 * Where the SDK is installed, doca-sys binds the SDK's real headers instead
 * and this file is not read.
 *
 * API generation: DOCA 2.9 (the doca_flow_cfg / doca_flow_port_cfg /
 * doca_flow_pipe_cfg setter API that appeared in 2.7, plus the 2.9 names
 * doca_flow_shared_resource_set_cfg and doca_flow_resource_query_entry,
 * parser_meta.port_id, and the rss_type/rss form of doca_flow_fwd).
 *
 * Layouts here are NOT the SDK's: members the backend does not touch are
 * left out, and enum values are only as good as the documentation they were
 * read from. What must agree with the SDK is every name used, and the
 * nesting of anonymous unions and structs the backend reaches into
 * (bindgen numbers them __bindgen_anon_N in declaration order): those are
 * declared in the documented order, with placeholders for the members
 * before the one used. Unsure points are marked UNSURE.
 */

#ifndef PSPGW_DOCA_MIN_H
#define PSPGW_DOCA_MIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- doca_types.h / doca_error.h ------------------------------------- */

typedef uint16_t doca_be16_t;
typedef uint32_t doca_be32_t;
typedef uint64_t doca_be64_t;

/* UNSURE: numbering beyond DOCA_SUCCESS = 0; only names are relied on. */
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
	DOCA_ERROR_IO_FAILED = 17,
	DOCA_ERROR_BAD_STATE = 18,
	DOCA_ERROR_DRIVER = 21,
	DOCA_ERROR_ALREADY_EXIST = 23,
	DOCA_ERROR_FULL = 24,
} doca_error_t;

const char *doca_error_get_descr(doca_error_t error);

/* ---- doca_dev.h ------------------------------------------------------ */
/* From the DOCA Core device API reference and the DOCA samples' public
 * open_doca_device_with_pci: the device list (engine::doca::probe lists the
 * PCI address of every device, engine::doca::backend opens the -p one).
 * The PCI address string is DOCA_DEVINFO_PCI_ADDR_SIZE (13) bytes with its
 * NUL. DOCA documents no per-device PSP capability query, so none is
 * declared. */

struct doca_dev;
struct doca_devinfo;

doca_error_t doca_devinfo_create_list(struct doca_devinfo ***dev_list, uint32_t *nb_devs);
doca_error_t doca_devinfo_destroy_list(struct doca_devinfo **dev_list);
doca_error_t doca_devinfo_get_pci_addr_str(const struct doca_devinfo *devinfo, char *pci_addr_str);
doca_error_t doca_dev_open(struct doca_devinfo *devinfo, struct doca_dev **dev);
doca_error_t doca_dev_close(struct doca_dev *dev);

/* ---- doca_flow_net.h (subset) ---------------------------------------- */

#define DOCA_FLOW_ETHER_ADDR_LEN (6)
#define DOCA_FLOW_PSP_DEFAULT_PORT (1000)
#define DOCA_FLOW_ETHER_TYPE_IPV4 (0x0800)
#define DOCA_FLOW_ETHER_TYPE_IPV6 (0x86DD)
/* UNSURE: the SDK derives this from header sizes; 128 is an upper bound
 * large enough for Ethernet + IPv6 + UDP + PSP + VC (70 bytes). */
#define DOCA_FLOW_CRYPTO_HEADER_LEN_MAX 128

enum doca_flow_l3_type {
	DOCA_FLOW_L3_TYPE_NONE = 0,
	DOCA_FLOW_L3_TYPE_IP4,
	DOCA_FLOW_L3_TYPE_IP6,
};

enum doca_flow_l4_type_ext {
	DOCA_FLOW_L4_TYPE_EXT_NONE = 0,
	DOCA_FLOW_L4_TYPE_EXT_TCP,
	DOCA_FLOW_L4_TYPE_EXT_UDP,
};

struct doca_flow_header_eth {
	uint8_t src_mac[DOCA_FLOW_ETHER_ADDR_LEN];
	uint8_t dst_mac[DOCA_FLOW_ETHER_ADDR_LEN];
	doca_be16_t type;
};

struct doca_flow_header_eth_vlan {
	doca_be16_t tci;
};

struct doca_flow_header_ip4 {
	doca_be32_t src_ip;
	doca_be32_t dst_ip;
	uint8_t next_proto;
	uint8_t ttl;
};

struct doca_flow_header_ip6 {
	doca_be32_t src_ip[4];
	doca_be32_t dst_ip[4];
	uint8_t next_proto;
	uint8_t hop_limit;
};

struct doca_flow_header_l4_port {
	doca_be16_t src_port;
	doca_be16_t dst_port;
};

struct doca_flow_header_udp {
	struct doca_flow_header_l4_port l4_port;
};

struct doca_flow_header_tcp {
	struct doca_flow_header_l4_port l4_port;
	uint8_t data_offset;
	uint8_t flags;
};

struct doca_flow_header_psp {
	uint8_t nexthdr;
	uint8_t hdrextlen;
	uint8_t res_cryptofst;
	uint8_t s_d_ver_v; /* S, D, version:4, V */
	doca_be32_t spi;
	doca_be64_t iv;
	doca_be64_t vc;
};

enum doca_flow_tun_type {
	DOCA_FLOW_TUN_NONE = 0,
	DOCA_FLOW_TUN_VXLAN,
	DOCA_FLOW_TUN_GTPU,
	DOCA_FLOW_TUN_GRE,
	DOCA_FLOW_TUN_ESP,
	DOCA_FLOW_TUN_MPLS_O_UDP,
	DOCA_FLOW_TUN_GENEVE,
	DOCA_FLOW_TUN_PSP,
};

/* The PSP member sits in the seventh anonymous struct of the union, after
 * VXLAN, GRE, GTP, ESP, MPLS and GENEVE; the first six are placeholders. */
struct doca_flow_tun {
	enum doca_flow_tun_type type;
	union {
		struct { doca_be32_t vxlan_tun_id; };
		struct { doca_be16_t protocol; };
		struct { doca_be32_t gtp_teid; };
		struct { doca_be32_t esp_spi; };
		struct { doca_be32_t mpls_label0; };
		struct { doca_be32_t geneve_vni; };
		struct { struct doca_flow_header_psp psp; };
	};
};

/* ---- doca_flow_crypto.h (subset) ------------------------------------- */

struct doca_flow_port;
struct doca_flow_crypto_psp_spi_key_bulk;

enum doca_flow_crypto_resource_type {
	DOCA_FLOW_CRYPTO_RESOURCE_NONE = 0,
	DOCA_FLOW_CRYPTO_RESOURCE_IPSEC_SA,
	DOCA_FLOW_CRYPTO_RESOURCE_PSP,
};

enum doca_flow_crypto_action_type {
	DOCA_FLOW_CRYPTO_ACTION_NONE = 0,
	DOCA_FLOW_CRYPTO_ACTION_ENCRYPT,
	DOCA_FLOW_CRYPTO_ACTION_DECRYPT,
};

enum doca_flow_crypto_encap_action_type {
	DOCA_FLOW_CRYPTO_REFORMAT_NONE = 0,
	DOCA_FLOW_CRYPTO_REFORMAT_ENCAP,
	DOCA_FLOW_CRYPTO_REFORMAT_DECAP,
};

enum doca_flow_crypto_encap_net_type {
	DOCA_FLOW_CRYPTO_HEADER_NONE = 0,
	DOCA_FLOW_CRYPTO_HEADER_PSP_TUNNEL = 7,
	DOCA_FLOW_CRYPTO_HEADER_PSP_OVER_IPV4,
	DOCA_FLOW_CRYPTO_HEADER_PSP_OVER_IPV6,
};

enum doca_flow_crypto_key_type {
	DOCA_FLOW_CRYPTO_KEY_128,
	DOCA_FLOW_CRYPTO_KEY_256,
};

struct doca_flow_crypto_key_cfg {
	enum doca_flow_crypto_key_type key_type;
	uint32_t *key;
};

doca_error_t doca_flow_crypto_psp_spi_key_bulk_alloc(struct doca_flow_port *port,
						     enum doca_flow_crypto_key_type key_type,
						     uint32_t nr_spi_keys,
						     struct doca_flow_crypto_psp_spi_key_bulk **spi_key_bulk);
doca_error_t doca_flow_crypto_psp_spi_key_bulk_generate(struct doca_flow_crypto_psp_spi_key_bulk *spi_key_bulk);
doca_error_t doca_flow_crypto_psp_spi_key_bulk_get(struct doca_flow_crypto_psp_spi_key_bulk *spi_key_bulk,
						   uint32_t spi_key_idx,
						   uint32_t *spi,
						   uint32_t *key);
doca_error_t doca_flow_crypto_psp_spi_key_wipe(struct doca_flow_crypto_psp_spi_key_bulk *spi_key_bulk,
					       uint32_t spi_key_idx);
doca_error_t doca_flow_crypto_psp_spi_key_bulk_free(struct doca_flow_crypto_psp_spi_key_bulk *spi_key_bulk);
/* Rotates the port's PSP master key: the active key becomes deprecated (its
 * SPIs still decrypt), the deprecated one is replaced. Experimental in the
 * public doca_flow_crypto.h. */
doca_error_t doca_flow_crypto_psp_master_key_rotate(struct doca_flow_port *port);

/* ---- doca_flow.h (subset) -------------------------------------------- */

struct doca_flow_pipe;
struct doca_flow_pipe_entry;
struct doca_flow_cfg;
struct doca_flow_port_cfg;
struct doca_flow_pipe_cfg;

#define DOCA_FLOW_PSP_DECRYPTION_ID UINT32_MAX

enum doca_flow_shared_resource_type {
	DOCA_FLOW_SHARED_RESOURCE_METER,
	DOCA_FLOW_SHARED_RESOURCE_COUNTER,
	DOCA_FLOW_SHARED_RESOURCE_RSS,
	DOCA_FLOW_SHARED_RESOURCE_MIRROR,
	DOCA_FLOW_SHARED_RESOURCE_PSP,
};

enum doca_flow_flags_type {
	DOCA_FLOW_NO_WAIT = 0,
	DOCA_FLOW_WAIT_FOR_BATCH = (1 << 0),
};

enum doca_flow_pipe_type {
	DOCA_FLOW_PIPE_BASIC,
	DOCA_FLOW_PIPE_CONTROL,
};

enum doca_flow_pipe_domain {
	DOCA_FLOW_PIPE_DOMAIN_DEFAULT = 0,
	DOCA_FLOW_PIPE_DOMAIN_SECURE_INGRESS,
	DOCA_FLOW_PIPE_DOMAIN_EGRESS,
	DOCA_FLOW_PIPE_DOMAIN_SECURE_EGRESS,
};

enum doca_flow_direction_info {
	DOCA_FLOW_DIRECTION_BIDIRECTIONAL = 0,
	DOCA_FLOW_DIRECTION_NETWORK_TO_HOST,
	DOCA_FLOW_DIRECTION_HOST_TO_NETWORK,
};

enum doca_flow_l3_meta {
	DOCA_FLOW_L3_META_NONE = 0,
	DOCA_FLOW_L3_META_IPV4,
	DOCA_FLOW_L3_META_IPV6,
};

enum doca_flow_l4_meta {
	DOCA_FLOW_L4_META_NONE = 0,
	DOCA_FLOW_L4_META_TCP,
	DOCA_FLOW_L4_META_UDP,
};

enum doca_flow_resource_type {
	DOCA_FLOW_RESOURCE_TYPE_NONE,
	DOCA_FLOW_RESOURCE_TYPE_SHARED,
	DOCA_FLOW_RESOURCE_TYPE_NON_SHARED,
};

enum doca_flow_entry_op {
	DOCA_FLOW_ENTRY_OP_ADD,
	DOCA_FLOW_ENTRY_OP_DEL,
	DOCA_FLOW_ENTRY_OP_UPD,
	DOCA_FLOW_ENTRY_OP_AGED,
};

enum doca_flow_entry_status {
	DOCA_FLOW_ENTRY_STATUS_IN_PROCESS,
	DOCA_FLOW_ENTRY_STATUS_SUCCESS,
	DOCA_FLOW_ENTRY_STATUS_ERROR,
};

typedef void (*doca_flow_entry_process_cb)(struct doca_flow_pipe_entry *entry,
					   uint16_t pipe_queue,
					   enum doca_flow_entry_status status,
					   enum doca_flow_entry_op op,
					   void *user_ctx);

struct doca_flow_meta {
	doca_be32_t pkt_meta;
};

/* UNSURE: 2.9 match on the source port: port_id (uint16_t, the id given to
 * doca_flow_port_cfg_set_port_id); older releases used uint32_t port_meta. */
struct doca_flow_parser_meta {
	uint16_t port_id;
	doca_be16_t random;
	uint8_t psp_syndrome;
	enum doca_flow_l3_meta outer_l3_type;
	enum doca_flow_l4_meta outer_l4_type;
	uint8_t outer_l3_ok;
	uint8_t outer_ip4_checksum_ok;
};

struct doca_flow_header_format {
	struct doca_flow_header_eth eth;
	uint16_t l2_valid_headers;
	struct doca_flow_header_eth_vlan eth_vlan[2];
	enum doca_flow_l3_type l3_type;
	union {
		struct doca_flow_header_ip4 ip4;
		struct doca_flow_header_ip6 ip6;
	};
	enum doca_flow_l4_type_ext l4_type_ext;
	union {
		struct doca_flow_header_udp udp;
		struct doca_flow_header_tcp tcp;
		struct doca_flow_header_l4_port transport;
	};
};

struct doca_flow_match {
	struct doca_flow_meta meta;
	struct doca_flow_parser_meta parser_meta;
	struct doca_flow_header_format outer;
	struct doca_flow_tun tun;
	struct doca_flow_header_format inner;
};

struct doca_flow_crypto_action {
	enum doca_flow_crypto_action_type action_type;
	enum doca_flow_crypto_resource_type resource_type;
	uint32_t crypto_id;
};

struct doca_flow_crypto_encap_action {
	enum doca_flow_crypto_encap_action_type action_type;
	enum doca_flow_crypto_encap_net_type net_type;
	uint16_t icv_size;
	uint16_t data_size;
	uint8_t encap_data[DOCA_FLOW_CRYPTO_HEADER_LEN_MAX];
};

struct doca_flow_actions {
	uint8_t action_idx;
	struct doca_flow_meta meta;
	struct doca_flow_tun tun;
	bool has_crypto_encap;
	struct doca_flow_crypto_encap_action crypto_encap;
	struct doca_flow_crypto_action crypto;
};

struct doca_flow_action_descs;

enum doca_flow_fwd_type {
	DOCA_FLOW_FWD_NONE = 0,
	DOCA_FLOW_FWD_RSS,
	DOCA_FLOW_FWD_PORT,
	DOCA_FLOW_FWD_PIPE,
	DOCA_FLOW_FWD_DROP,
};

enum doca_rss_type {
	DOCA_FLOW_RSS_IPV4 = (1 << 0),
	DOCA_FLOW_RSS_IPV6 = (1 << 1),
};

struct doca_flow_resource_rss_cfg {
	uint32_t outer_flags;
	uint32_t inner_flags;
	uint16_t *queues_array;
	int nr_queues;
};

/* The union's anonymous structs in documented order: RSS, port, pipe. */
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
	};
};

struct doca_flow_monitor {
	enum doca_flow_resource_type counter_type;
	uint32_t shared_mirror_id;
};

struct doca_flow_resource_psp_cfg {
	struct doca_flow_crypto_key_cfg key_cfg;
};

struct doca_flow_mirror_target {
	bool has_encap;
	struct doca_flow_fwd fwd;
};

struct doca_flow_resource_mirror_cfg {
	int nr_targets;
	struct doca_flow_mirror_target *target;
	struct doca_flow_fwd fwd;
};

/* UNSURE: `domain` is shown by the PSP Gateway guide's key-programming
 * example; later releases may take the domain from the bound port. */
struct doca_flow_shared_resource_cfg {
	enum doca_flow_pipe_domain domain;
	union {
		struct doca_flow_resource_psp_cfg psp_cfg;
		struct doca_flow_resource_mirror_cfg mirror_cfg;
	};
};

struct doca_flow_resource_query {
	union {
		struct {
			uint64_t total_bytes;
			uint64_t total_pkts;
		} counter;
	};
};

doca_error_t doca_flow_cfg_create(struct doca_flow_cfg **cfg);
doca_error_t doca_flow_cfg_destroy(struct doca_flow_cfg *cfg);
doca_error_t doca_flow_cfg_set_pipe_queues(struct doca_flow_cfg *cfg, uint16_t pipe_queues);
doca_error_t doca_flow_cfg_set_nr_counters(struct doca_flow_cfg *cfg, uint32_t nr_counters);
doca_error_t doca_flow_cfg_set_mode_args(struct doca_flow_cfg *cfg, const char *mode_args);
doca_error_t doca_flow_cfg_set_nr_shared_resource(struct doca_flow_cfg *cfg,
						  uint32_t nr_shared_resource,
						  enum doca_flow_shared_resource_type type);
doca_error_t doca_flow_cfg_set_cb_entry_process(struct doca_flow_cfg *cfg, doca_flow_entry_process_cb cb);
doca_error_t doca_flow_init(struct doca_flow_cfg *cfg);
void doca_flow_destroy(void);

doca_error_t doca_flow_port_cfg_create(struct doca_flow_port_cfg **cfg);
doca_error_t doca_flow_port_cfg_destroy(struct doca_flow_port_cfg *cfg);
doca_error_t doca_flow_port_cfg_set_port_id(struct doca_flow_port_cfg *cfg, uint16_t port_id);
/* UNSURE: 2.7 took `void *dev`; callers pass `dev.cast()`, which fits both. */
doca_error_t doca_flow_port_cfg_set_dev(struct doca_flow_port_cfg *cfg, struct doca_dev *dev);
doca_error_t doca_flow_port_start(const struct doca_flow_port_cfg *cfg, struct doca_flow_port **port);
doca_error_t doca_flow_port_stop(struct doca_flow_port *port);

doca_error_t doca_flow_pipe_cfg_create(struct doca_flow_pipe_cfg **cfg, struct doca_flow_port *port);
doca_error_t doca_flow_pipe_cfg_destroy(struct doca_flow_pipe_cfg *cfg);
doca_error_t doca_flow_pipe_cfg_set_name(struct doca_flow_pipe_cfg *cfg, const char *name);
doca_error_t doca_flow_pipe_cfg_set_type(struct doca_flow_pipe_cfg *cfg, enum doca_flow_pipe_type type);
doca_error_t doca_flow_pipe_cfg_set_domain(struct doca_flow_pipe_cfg *cfg, enum doca_flow_pipe_domain domain);
doca_error_t doca_flow_pipe_cfg_set_is_root(struct doca_flow_pipe_cfg *cfg, bool is_root);
doca_error_t doca_flow_pipe_cfg_set_nr_entries(struct doca_flow_pipe_cfg *cfg, uint32_t nr_entries);
doca_error_t doca_flow_pipe_cfg_set_dir_info(struct doca_flow_pipe_cfg *cfg, enum doca_flow_direction_info dir_info);
doca_error_t doca_flow_pipe_cfg_set_miss_counter(struct doca_flow_pipe_cfg *cfg, bool miss_counter);
doca_error_t doca_flow_pipe_cfg_set_match(struct doca_flow_pipe_cfg *cfg,
					  const struct doca_flow_match *match,
					  const struct doca_flow_match *match_mask);
doca_error_t doca_flow_pipe_cfg_set_actions(struct doca_flow_pipe_cfg *cfg,
					    struct doca_flow_actions *const *actions,
					    struct doca_flow_actions *const *actions_masks,
					    struct doca_flow_action_descs *const *action_descs,
					    size_t nr_actions);
doca_error_t doca_flow_pipe_cfg_set_monitor(struct doca_flow_pipe_cfg *cfg, const struct doca_flow_monitor *monitor);
doca_error_t doca_flow_pipe_create(const struct doca_flow_pipe_cfg *cfg,
				   const struct doca_flow_fwd *fwd,
				   const struct doca_flow_fwd *fwd_miss,
				   struct doca_flow_pipe **pipe);
void doca_flow_pipe_destroy(struct doca_flow_pipe *pipe);

doca_error_t doca_flow_pipe_add_entry(uint16_t pipe_queue,
				      struct doca_flow_pipe *pipe,
				      const struct doca_flow_match *match,
				      const struct doca_flow_actions *actions,
				      const struct doca_flow_monitor *monitor,
				      const struct doca_flow_fwd *fwd,
				      uint32_t flags,
				      void *usr_ctx,
				      struct doca_flow_pipe_entry **entry);
struct doca_flow_match_condition;
doca_error_t doca_flow_pipe_control_add_entry(uint16_t pipe_queue,
					      uint32_t priority,
					      struct doca_flow_pipe *pipe,
					      const struct doca_flow_match *match,
					      const struct doca_flow_match *match_mask,
					      const struct doca_flow_match_condition *condition,
					      const struct doca_flow_actions *actions,
					      const struct doca_flow_actions *actions_mask,
					      const struct doca_flow_action_descs *action_descs,
					      const struct doca_flow_monitor *monitor,
					      const struct doca_flow_fwd *fwd,
					      void *usr_ctx,
					      struct doca_flow_pipe_entry **entry);
doca_error_t doca_flow_pipe_update_entry(uint16_t pipe_queue,
					 struct doca_flow_pipe *pipe,
					 const struct doca_flow_actions *actions,
					 const struct doca_flow_monitor *monitor,
					 const struct doca_flow_fwd *fwd,
					 const enum doca_flow_flags_type flags,
					 struct doca_flow_pipe_entry *entry);
doca_error_t doca_flow_pipe_rm_entry(uint16_t pipe_queue, uint32_t flags, struct doca_flow_pipe_entry *entry);
doca_error_t doca_flow_entries_process(struct doca_flow_port *port,
				       uint16_t pipe_queue,
				       uint64_t timeout,
				       uint32_t max_processed_entries);
enum doca_flow_entry_status doca_flow_pipe_entry_get_status(struct doca_flow_pipe_entry *entry);

doca_error_t doca_flow_shared_resource_set_cfg(enum doca_flow_shared_resource_type type,
					       uint32_t id,
					       struct doca_flow_shared_resource_cfg *cfg);
doca_error_t doca_flow_shared_resources_bind(enum doca_flow_shared_resource_type type,
					     uint32_t *res_array,
					     uint32_t res_array_len,
					     void *bindable_obj);

doca_error_t doca_flow_resource_query_entry(struct doca_flow_pipe_entry *entry,
					    struct doca_flow_resource_query *query_stats);
/* UNSURE: the 2.9 name of the pipe miss counter query (doca_flow_query_pipe_miss before). */
doca_error_t doca_flow_resource_query_pipe_miss(struct doca_flow_pipe *pipe,
						struct doca_flow_resource_query *query_stats);

#endif /* PSPGW_DOCA_MIN_H */
