/* See shim.h: exported wrappers around DPDK's static inline functions. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "shim.h"

uint16_t pspgw_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
			    struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t pspgw_eth_tx_burst(uint16_t port_id, uint16_t queue_id,
			    struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

uint64_t pspgw_eth_rss_ip(void) { return RTE_ETH_RSS_IP; }
uint64_t pspgw_eth_rss_tcp(void) { return RTE_ETH_RSS_TCP; }
uint64_t pspgw_eth_rss_udp(void) { return RTE_ETH_RSS_UDP; }

struct rte_mbuf *pspgw_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int pspgw_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
			     unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

void pspgw_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

char *pspgw_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_prepend(m, len);
}

char *pspgw_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_append(m, len);
}

char *pspgw_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_adj(m, len);
}

int pspgw_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_trim(m, len);
}

uint16_t pspgw_pktmbuf_headroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_headroom(m);
}

uint16_t pspgw_pktmbuf_tailroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_tailroom(m);
}

void *pspgw_pktmbuf_mtod(const struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, void *);
}

uint16_t pspgw_pktmbuf_data_len(const struct rte_mbuf *m)
{
	return rte_pktmbuf_data_len(m);
}

uint32_t pspgw_pktmbuf_pkt_len(const struct rte_mbuf *m)
{
	return rte_pktmbuf_pkt_len(m);
}

uint16_t pspgw_pktmbuf_nb_segs(const struct rte_mbuf *m)
{
	return m->nb_segs;
}

unsigned int pspgw_ring_enqueue_burst(struct rte_ring *r, void *const *obj_table,
				      unsigned int n, unsigned int *free_space)
{
	return rte_ring_enqueue_burst(r, obj_table, n, free_space);
}

unsigned int pspgw_ring_dequeue_burst(struct rte_ring *r, void **obj_table,
				      unsigned int n, unsigned int *available)
{
	return rte_ring_dequeue_burst(r, obj_table, n, available);
}

int pspgw_errno(void)
{
	return rte_errno;
}

unsigned int pspgw_lcore_id(void)
{
	return rte_lcore_id();
}

int pspgw_flow_dynf_metadata_avail(void)
{
	return rte_flow_dynf_metadata_avail();
}

uint32_t pspgw_flow_dynf_metadata_get(struct rte_mbuf *m)
{
	return rte_flow_dynf_metadata_get(m);
}

void pspgw_flow_dynf_metadata_set(struct rte_mbuf *m, uint32_t v)
{
	rte_flow_dynf_metadata_set(m, v);
}

int pspgw_flow_dynf_metadata_flag_get(const struct rte_mbuf *m)
{
	return (m->ol_flags & RTE_MBUF_DYNFLAG_RX_METADATA) != 0;
}

void pspgw_flow_dynf_metadata_flag_set(struct rte_mbuf *m, int on)
{
	if (on)
		m->ol_flags |= RTE_MBUF_DYNFLAG_TX_METADATA;
	else
		m->ol_flags &= ~RTE_MBUF_DYNFLAG_TX_METADATA;
}

int pspgw_set_thread_cpus(const uint64_t *words, unsigned nwords)
{
	cpu_set_t set;
	unsigned cpu, any = 0;

	CPU_ZERO(&set);
	for (cpu = 0; cpu < 64u * nwords && cpu < CPU_SETSIZE; cpu++) {
		if (words[cpu / 64] & (1ull << (cpu % 64))) {
			CPU_SET(cpu, &set);
			any = 1;
		}
	}
	if (!any)
		return EINVAL;
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
