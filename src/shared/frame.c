#include "config.h"
#include "frame.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

long cr_frame_encode(uint8_t type, const void *payload, size_t len, uint8_t *out, size_t outcap)
{
	uint32_t n;

	if (len > FRAME_MAX_PAYLOAD || outcap < FRAME_HDR + len)
		return -1;
	n = (uint32_t)len + 1;
	out[0] = (uint8_t)(n >> 24);
	out[1] = (uint8_t)(n >> 16);
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	out[4] = type;
	if (len > 0)
		memcpy(out + FRAME_HDR, payload, len);
	return (long)(FRAME_HDR + len);
}

/* The length field is checked before anything trusts it, as OpenSSH's
 * monitor does with MONITOR_MAX_MSGLEN. */
int cr_frame_decode(const uint8_t *pkt, size_t pktlen, uint8_t *type, const uint8_t **payload,
		 size_t *len)
{
	uint32_t n;

	if (pktlen < FRAME_HDR)
		return FRAME_TRUNCATED;
	n = ((uint32_t)pkt[0] << 24) | ((uint32_t)pkt[1] << 16) | ((uint32_t)pkt[2] << 8) | pkt[3];
	if (n > FRAME_MAX_PAYLOAD + 1)
		return FRAME_OVERSIZED;
	if (n == 0)
		return FRAME_BADLEN;
	if ((size_t)n > pktlen - 4)
		return FRAME_TRUNCATED;
	if ((size_t)n != pktlen - 4)
		return FRAME_BADLEN;
	*type = pkt[4];
	*payload = pkt + FRAME_HDR;
	*len = n - 1;
	return FRAME_OK;
}

int cr_frame_send(int fd, uint8_t type, const void *payload, size_t len)
{
	uint8_t hdr[FRAME_HDR];
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t w;

	if (len > FRAME_MAX_PAYLOAD)
		return FRAME_OVERSIZED;
	/* The header alone, with the length of the payload that follows. */
	uint32_t n = (uint32_t)len + 1;
	hdr[0] = (uint8_t)(n >> 24);
	hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
	hdr[4] = type;
	iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = FRAME_HDR };
	iov[1] = (struct iovec){ .iov_base = (void *)payload, .iov_len = len };
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = len > 0 ? 2 : 1;
	do {
		w = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		return errno == EPIPE || errno == ECONNRESET ? FRAME_EOF : FRAME_IO;
	return (size_t)w == FRAME_HDR + len ? FRAME_OK : FRAME_IO;
}

int cr_frame_recv(int fd, uint8_t *buf, size_t bufcap, uint8_t *type, const uint8_t **payload,
	       size_t *len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = bufcap };
	struct msghdr mh;
	ssize_t r;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	do {
		r = recvmsg(fd, &mh, 0);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return FRAME_EOF;
	if (r < 0)
		return errno == ECONNRESET ? FRAME_EOF : FRAME_IO;
	if ((mh.msg_flags & MSG_TRUNC) || (size_t)r > FRAME_HDR + FRAME_MAX_PAYLOAD)
		return FRAME_OVERSIZED;
	return cr_frame_decode(buf, (size_t)r, type, payload, len);
}

const char *cr_frame_strerror(int err)
{
	switch (err) {
	case FRAME_OK: return "ok";
	case FRAME_EOF: return "peer closed the socket";
	case FRAME_IO: return "socket error";
	case FRAME_TRUNCATED: return "truncated frame";
	case FRAME_OVERSIZED: return "oversized frame";
	case FRAME_BADLEN: return "frame length does not match the packet";
	default: return "unknown frame error";
	}
}
