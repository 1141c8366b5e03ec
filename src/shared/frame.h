/* Framing on the privsep socketpair (SOCK_SEQPACKET): one frame per packet,
 * a 4-byte big-endian length (of type byte + payload), a type byte, then the
 * payload.  Requests have even types and answers odd ones, so an answer can
 * never pass for a request (as in OpenSSH's monitor). */
#ifndef CR_FRAME_H
#define CR_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR 5
#define FRAME_MAX_PAYLOAD (64 * 1024)

enum frame_err {
	FRAME_OK = 0,
	FRAME_EOF = -1,        /* peer closed */
	FRAME_IO = -2,         /* read/write error */
	FRAME_TRUNCATED = -3,  /* shorter than its header or its length says */
	FRAME_OVERSIZED = -4,  /* length field or packet above FRAME_MAX_PAYLOAD */
	FRAME_BADLEN = -5,     /* length field disagrees with the packet */
};

/* Encodes into out (capacity outcap); returns the frame size or -1. */
long cr_frame_encode(uint8_t type, const void *payload, size_t len, uint8_t *out, size_t outcap);
/* Decodes a whole received packet; payload points into pkt. */
int cr_frame_decode(const uint8_t *pkt, size_t pktlen, uint8_t *type, const uint8_t **payload,
		 size_t *len);
int cr_frame_send(int fd, uint8_t type, const void *payload, size_t len);
/* Receives one packet into buf (capacity FRAME_HDR + FRAME_MAX_PAYLOAD + 1);
 * a packet longer than the maximum is detected with MSG_TRUNC and refused. */
int cr_frame_recv(int fd, uint8_t *buf, size_t bufcap, uint8_t *type, const uint8_t **payload,
	       size_t *len);
const char *cr_frame_strerror(int err);

#endif
