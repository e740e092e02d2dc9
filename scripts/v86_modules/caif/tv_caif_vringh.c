// SPDX-License-Identifier: GPL-2.0
/*
 * typed-virtio test helper (ours, not Linux's): gives a virtio CAIF device on
 * virtio_pci or virtio_mmio the host-side ring that caif_virtio asks for.
 *
 * caif_virtio consumes its downlink through vringh, from
 * vdev->vringh_config->find_vrhs(), which only remote-processor transports
 * provide; on PCI and MMIO its probe stops with -ENODEV. This module finds the
 * CAIF device before caif_virtio is loaded and wraps its transport:
 *
 * - find_vrhs sets up both queues through the transport (0 "output", the
 *   uplink caif_virtio drives; 1 "downlink", which the device fills), lends
 *   the device one buffer of config mtu bytes per descriptor of queue 1 (the
 *   device reads that list at DRIVER_OK; see docs/devices/caif.md), and makes
 *   a vringh over queue 1's ring;
 * - find_vqs (caif_virtio asks for its one queue) hands back queue 0;
 * - caif_virtio's uplink pool comes from dma_alloc_coherent() on the
 *   transport device's parent, which gets a 32-bit DMA mask if it has none;
 * - the device signals new downlink buffers with queue 1's interrupt; a
 *   shared handler on the device's interrupt line calls caif_virtio's vringh
 *   callback while the ring has unseen entries; vringh_notify() notifies
 *   queue 1.
 *
 * One CAIF device at a time. Unload caif_virtio before this module.
 */
#include <linux/module.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_caif.h>
#include <linux/virtio_ring.h>
#include <linux/vringh.h>
#include <linux/interrupt.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/io.h>
#include <linux/dma-mapping.h>

struct tv_caif {
	struct virtio_device *vdev;
	const struct virtio_config_ops *orig;
	struct virtio_config_ops ops;
	struct virtqueue *vqs[2];
	vq_callback_t *tx_cb;
	vrh_callback_t *rx_cb;
	struct vringh vrh;
	bool vrh_ready;
	bool live;
	int irq;
	bool irq_on;
	void **bufs;
	unsigned int nbufs;
};

static struct tv_caif *tv;

static void tv_kick_rx(void)
{
	u16 avail;

	if (!READ_ONCE(tv->live) || !READ_ONCE(tv->vrh_ready) || !tv->rx_cb)
		return;
	avail = virtio16_to_cpu(tv->vdev, READ_ONCE(tv->vrh.vring.avail->idx));
	if (avail != tv->vrh.last_avail_idx)
		tv->rx_cb(tv->vdev, &tv->vrh);
}

static irqreturn_t tv_irq(int irq, void *data)
{
	tv_kick_rx();
	return IRQ_NONE; /* the transport's handler owns the interrupt status */
}

static void tv_tx_cb(struct virtqueue *vq)
{
	if (tv->tx_cb)
		tv->tx_cb(vq);
}

static void tv_rx_vq_cb(struct virtqueue *vq)
{
	tv_kick_rx();
}

static void tv_vrh_notify(struct vringh *vrh)
{
	virtqueue_notify(tv->vqs[1]);
}

static void tv_free_bufs(void)
{
	unsigned int i;

	for (i = 0; i < tv->nbufs; i++)
		kfree(tv->bufs[i]);
	kfree(tv->bufs);
	tv->bufs = NULL;
	tv->nbufs = 0;
}

static int tv_find_vrhs(struct virtio_device *vdev, unsigned int nhvrs,
			struct vringh *vrhs[], vrh_callback_t *callbacks[])
{
	vq_callback_t *cbs[2] = { tv_tx_cb, tv_rx_vq_cb };
	static const char * const names[2] = { "output", "downlink" };
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	unsigned int num, i;
	u32 mtu;
	int err;

	if (nhvrs != 1)
		return -EINVAL;
	err = tv->orig->find_vqs(vdev, 2, tv->vqs, cbs, names, NULL, NULL);
	if (err)
		return err;
	virtio_cread(vdev, struct virtio_caif_transf_config, mtu, &mtu);
	num = virtqueue_get_vring_size(tv->vqs[1]);
	/* No IOMMU here: the ring's DMA addresses are physical ones. */
	desc = phys_to_virt(virtqueue_get_desc_addr(tv->vqs[1]));
	avail = phys_to_virt(virtqueue_get_avail_addr(tv->vqs[1]));
	used = phys_to_virt(virtqueue_get_used_addr(tv->vqs[1]));
	tv->bufs = kcalloc(num, sizeof(void *), GFP_KERNEL);
	if (!tv->bufs)
		goto nomem;
	for (i = 0; i < num; i++) {
		void *b = kzalloc(mtu, GFP_KERNEL);

		if (!b)
			goto nomem;
		tv->bufs[tv->nbufs++] = b;
		desc[i].addr = cpu_to_virtio64(vdev, virt_to_phys(b));
		desc[i].len = cpu_to_virtio32(vdev, mtu);
		desc[i].flags = 0;
		desc[i].next = 0;
	}
	err = vringh_init_kern(&tv->vrh, vdev->features, num, false, desc, avail, used);
	if (err)
		goto fail;
	tv->vrh.notify = tv_vrh_notify;
	tv->rx_cb = callbacks[0];
	vrhs[0] = &tv->vrh;
	err = request_irq(tv->irq, tv_irq, IRQF_SHARED, "tv_caif_vringh", tv);
	if (err)
		goto fail;
	tv->irq_on = true;
	WRITE_ONCE(tv->vrh_ready, true);
	dev_info(&vdev->dev, "tv_caif_vringh: downlink ring of %u, %u buffers of %u bytes lent, irq %d\n",
		 num, tv->nbufs, mtu, tv->irq);
	return 0;
nomem:
	err = -ENOMEM;
fail:
	tv_free_bufs();
	tv->orig->del_vqs(vdev);
	tv->vqs[0] = tv->vqs[1] = NULL;
	return err;
}

static void tv_del_vrhs(struct virtio_device *vdev)
{
	WRITE_ONCE(tv->vrh_ready, false);
}

static int tv_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
		       struct virtqueue *vqs[], vq_callback_t *callbacks[],
		       const char * const names[], const bool *ctx,
		       struct irq_affinity *desc)
{
	if (nvqs != 1 || !tv->vqs[0])
		return -EINVAL;
	tv->tx_cb = callbacks[0];
	vqs[0] = tv->vqs[0];
	return 0;
}

static void tv_del_vqs(struct virtio_device *vdev)
{
	WRITE_ONCE(tv->vrh_ready, false);
	if (tv->irq_on)
		free_irq(tv->irq, tv);
	tv->irq_on = false;
	if (tv->vqs[0])
		tv->orig->del_vqs(vdev);
	tv->vqs[0] = tv->vqs[1] = NULL;
	tv->tx_cb = NULL;
	tv->rx_cb = NULL;
	tv_free_bufs();
}

static void tv_set_status(struct virtio_device *vdev, u8 status)
{
	tv->orig->set_status(vdev, status);
	WRITE_ONCE(tv->live, !!(status & VIRTIO_CONFIG_S_DRIVER_OK));
	tv_kick_rx();
}

static void tv_reset(struct virtio_device *vdev)
{
	WRITE_ONCE(tv->live, false);
	tv->orig->reset(vdev);
}

static const struct vringh_config_ops tv_vrh_ops = {
	.find_vrhs = tv_find_vrhs,
	.del_vrhs = tv_del_vrhs,
};

static int tv_install(struct device *dev, void *data)
{
	struct virtio_device *vdev = dev_to_virtio(dev);
	struct device *parent = dev->parent;

	if (vdev->id.device != VIRTIO_ID_CAIF || dev->driver || tv->vdev)
		return 0;
	if (parent && dev_is_pci(parent))
		tv->irq = to_pci_dev(parent)->irq;
	else if (parent && dev_is_platform(parent))
		tv->irq = platform_get_irq(to_platform_device(parent), 0);
	else
		return 0;
	if (tv->irq <= 0)
		return 0;
	/*
	 * caif_virtio allocates its uplink buffer pool with dma_alloc_coherent()
	 * on vdev->dev.parent->parent (the remote processor's device on real
	 * hardware). Here that is the PCI host bridge or the platform bus root,
	 * which have no DMA mask, so the allocation would fail: give it 32 bits.
	 */
	if (parent->parent && !parent->parent->coherent_dma_mask) {
		parent->parent->coherent_dma_mask = DMA_BIT_MASK(32);
		if (!parent->parent->dma_mask)
			parent->parent->dma_mask = &parent->parent->coherent_dma_mask;
	}
	tv->vdev = vdev;
	tv->orig = vdev->config;
	tv->ops = *vdev->config;
	tv->ops.find_vqs = tv_find_vqs;
	tv->ops.del_vqs = tv_del_vqs;
	tv->ops.set_status = tv_set_status;
	tv->ops.reset = tv_reset;
	vdev->config = &tv->ops;
	vdev->vringh_config = &tv_vrh_ops;
	dev_info(dev, "tv_caif_vringh: host-side ring for caif_virtio on %s (irq %d)\n",
		 dev_name(parent), tv->irq);
	return 1;
}

/* A driver that matches nothing: registering it tells us the virtio bus. */
static const struct virtio_device_id tv_none[] = { { 0 } };
static int tv_probe(struct virtio_device *vdev) { return -ENODEV; }
static void tv_remove(struct virtio_device *vdev) { }
static struct virtio_driver tv_bus_finder = {
	.driver.name = "tv_caif_vringh",
	.driver.owner = THIS_MODULE,
	.id_table = tv_none,
	.probe = tv_probe,
	.remove = tv_remove,
};

static int __init tv_init(void)
{
	int err;

	tv = kzalloc(sizeof(*tv), GFP_KERNEL);
	if (!tv)
		return -ENOMEM;
	err = register_virtio_driver(&tv_bus_finder);
	if (err)
		goto out;
	bus_for_each_dev(tv_bus_finder.driver.bus, NULL, NULL, tv_install);
	unregister_virtio_driver(&tv_bus_finder);
	if (tv->vdev)
		return 0;
	pr_err("tv_caif_vringh: no unbound virtio CAIF device on PCI or MMIO\n");
	err = -ENODEV;
out:
	kfree(tv);
	return err;
}

static void __exit tv_exit(void)
{
	tv->vdev->config = tv->orig;
	tv->vdev->vringh_config = NULL;
	kfree(tv);
}

module_init(tv_init);
module_exit(tv_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("typed-virtio: host-side ring for caif_virtio on virtio_pci / virtio_mmio");
