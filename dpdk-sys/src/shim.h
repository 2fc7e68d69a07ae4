/*
 * C shim over DPDK's static inline functions and macros, which bindgen
 * cannot bind: each pspgw_* function is a plain exported wrapper around the
 * DPDK function of the same name (without the rte_ prefix). Compiled by
 * build.rs with the `cc` crate and libdpdk's own cflags.
 */
#ifndef PSPGW_SHIM_H
#define PSPGW_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

/* rte_ethdev.h fast path */
uint16_t pspgw_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
			    struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
uint16_t pspgw_eth_tx_burst(uint16_t port_id, uint16_t queue_id,
			    struct rte_mbuf **tx_pkts, uint16_t nb_pkts);

/* RSS hash types (RTE_ETH_RSS_* are RTE_BIT64() macros bindgen skips). */
uint64_t pspgw_eth_rss_ip(void);
uint64_t pspgw_eth_rss_tcp(void);
uint64_t pspgw_eth_rss_udp(void);

/* rte_mbuf.h */
struct rte_mbuf *pspgw_pktmbuf_alloc(struct rte_mempool *mp);
int pspgw_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
			     unsigned int count);
void pspgw_pktmbuf_free(struct rte_mbuf *m);
char *pspgw_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *pspgw_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *pspgw_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int pspgw_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
uint16_t pspgw_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t pspgw_pktmbuf_tailroom(const struct rte_mbuf *m);
/* rte_pktmbuf_mtod(m, void *): the first byte of the data. */
void *pspgw_pktmbuf_mtod(const struct rte_mbuf *m);
/* rte_pktmbuf_data_len / rte_pktmbuf_pkt_len */
uint16_t pspgw_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t pspgw_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t pspgw_pktmbuf_nb_segs(const struct rte_mbuf *m);

/* rte_ring.h (always-inline burst functions) */
unsigned int pspgw_ring_enqueue_burst(struct rte_ring *r, void *const *obj_table,
				      unsigned int n, unsigned int *free_space);
unsigned int pspgw_ring_dequeue_burst(struct rte_ring *r, void **obj_table,
				      unsigned int n, unsigned int *available);

/* rte_errno.h / rte_lcore.h per-lcore variables */
int pspgw_errno(void);
unsigned int pspgw_lcore_id(void);

/*
 * rte_flow.h metadata dynfield. rte_flow_dynf_metadata_register() is a
 * regular exported function (bound directly); get/set must only be called
 * after it succeeded (pspgw_flow_dynf_metadata_avail() != 0), otherwise the
 * field offset is -1.
 */
int pspgw_flow_dynf_metadata_avail(void);
uint32_t pspgw_flow_dynf_metadata_get(struct rte_mbuf *m);
void pspgw_flow_dynf_metadata_set(struct rte_mbuf *m, uint32_t v);
/* RTE_MBUF_DYNFLAG_RX_METADATA (== _TX_METADATA) is set in m->ol_flags. */
int pspgw_flow_dynf_metadata_flag_get(const struct rte_mbuf *m);
/* Sets or clears RTE_MBUF_DYNFLAG_TX_METADATA in m->ol_flags. */
void pspgw_flow_dynf_metadata_flag_set(struct rte_mbuf *m, int on);

/*
 * Sets the calling thread's CPU affinity to the CPUs whose bits are set in
 * words[0..nwords] (bit i of word w is CPU 64*w + i; CPUs past CPU_SETSIZE
 * are ignored). Returns 0, or an errno value (EINVAL: no CPU in the set).
 */
int pspgw_set_thread_cpus(const uint64_t *words, unsigned nwords);

#endif
