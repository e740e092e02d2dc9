// SPDX-License-Identifier: GPL-2.0
/*
 * tv_mmio: declares virtio-mmio platform devices for the typed-virtio v86
 * host. Debian's i386 kernel is built without VIRTIO_MMIO_CMDLINE_DEVICES,
 * so this module does what `virtio_mmio.device=` would: one "virtio-mmio"
 * device per (base, irq) pair given as module parameters, e.g.
 *   insmod tv_mmio.ko base=0xfe800000,0xfe801000 irq=5,7
 */
#include <linux/module.h>
#include <linux/platform_device.h>

#define TV_MMIO_MAX 8
#define TV_MMIO_SIZE 0x200

static unsigned long base[TV_MMIO_MAX];
static int irq[TV_MMIO_MAX];
static int nbase, nirq;
module_param_array(base, ulong, &nbase, 0444);
module_param_array(irq, int, &nirq, 0444);

static struct platform_device *devs[TV_MMIO_MAX];

static int __init tv_mmio_init(void)
{
	int i;

	for (i = 0; i < nbase && i < nirq; i++) {
		struct resource res[] = {
			DEFINE_RES_MEM(base[i], TV_MMIO_SIZE),
			DEFINE_RES_IRQ(irq[i]),
		};

		devs[i] = platform_device_register_simple("virtio-mmio", i, res, ARRAY_SIZE(res));
		if (IS_ERR(devs[i])) {
			pr_err("tv_mmio: device %d at 0x%lx: %ld\n", i, base[i], PTR_ERR(devs[i]));
			devs[i] = NULL;
		}
	}
	return 0;
}

static void __exit tv_mmio_exit(void)
{
	int i;

	for (i = 0; i < TV_MMIO_MAX; i++)
		if (devs[i])
			platform_device_unregister(devs[i]);
}

module_init(tv_mmio_init);
module_exit(tv_mmio_exit);
MODULE_DESCRIPTION("virtio-mmio devices for the typed-virtio v86 host");
MODULE_LICENSE("GPL");
