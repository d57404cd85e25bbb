// SPDX-License-Identifier: GPL-2.0
/*
 * fxhba: a RAM-backed block driver shaped like a vendor HBA driver, for the fleetfix lab.
 *
 * Like a real host adapter, the "controller" identifies a command by a slot number in a command table
 * shared by every hardware queue, and reports its completion by that number; the driver maps the slot back
 * to its request. Each hardware queue belongs to one CPU, so requests issued on different CPUs reach
 * queue_rq at the same time.
 *
 * Build 1.0.0 claims slots without taking the table lock: two CPUs dispatching at once can both see the
 * same slot free and both take it. The first completion for that slot then ends the other CPU's request
 * and releases the slot, and the second completion finds no request there and dereferences NULL. With one
 * request in flight (queue depth 1) queue_rq never runs on two CPUs at once and the race cannot happen.
 * Build 1.0.1 claims and releases slots under the lock.
 */

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>

#include "fxhba_build.h" /* FXHBA_VERSION and FXHBA_LOCKED_SLOTS, written per build */

#define FXHBA_SLOTS 64
#define FXHBA_QUEUE_DEPTH 64

static unsigned int size_mb = 64;
module_param(size_mb, uint, 0444);
MODULE_PARM_DESC(size_mb, "Size of the disk in MiB (default 64)");

static unsigned int doorbell_ns = 500;
module_param(doorbell_ns, uint, 0444);
MODULE_PARM_DESC(doorbell_ns, "Time the controller takes to accept a posted command, in ns (default 500)");

struct fxhba_slot {
	struct request *rq;
	sector_t sector;
	unsigned int bytes;
};

struct fxhba_cmd {
	blk_status_t status;
};

struct fxhba_dev {
	spinlock_t table_lock; /* guards slots[] (taken by 1.0.1 only) */
	struct fxhba_slot slots[FXHBA_SLOTS];
	u8 *data;
	sector_t sectors;
	struct blk_mq_tag_set tag_set;
	struct gendisk *disk;
};

static int fxhba_major;
static struct platform_device *fxhba_pdev;

static void fxhba_table_lock(struct fxhba_dev *fx, unsigned long *flags)
{
	if (FXHBA_LOCKED_SLOTS)
		spin_lock_irqsave(&fx->table_lock, *flags);
}

static void fxhba_table_unlock(struct fxhba_dev *fx, unsigned long flags)
{
	if (FXHBA_LOCKED_SLOTS)
		spin_unlock_irqrestore(&fx->table_lock, flags);
}

/*
 * The helpers below stay out of line so that each stage of a command shows in a call trace, as it does in
 * a real driver.
 */

/* Take a free slot, describe the transfer in it, post it to the controller, then publish the request. */
static noinline int fxhba_claim_slot(struct fxhba_dev *fx, struct request *rq)
{
	unsigned long flags = 0;
	int slot;

	fxhba_table_lock(fx, &flags);
	for (slot = 0; slot < FXHBA_SLOTS; slot++)
		if (!READ_ONCE(fx->slots[slot].rq))
			break;
	if (slot == FXHBA_SLOTS) {
		fxhba_table_unlock(fx, flags);
		return -EBUSY;
	}
	fx->slots[slot].sector = blk_rq_pos(rq);
	fx->slots[slot].bytes = blk_rq_bytes(rq);
	ndelay(doorbell_ns); /* the doorbell write and its read-back */
	WRITE_ONCE(fx->slots[slot].rq, rq);
	fxhba_table_unlock(fx, flags);
	return slot;
}

/* The controller moves the data the slot describes between the disk and the request's pages. */
static noinline void fxhba_transfer(struct fxhba_dev *fx, int slot)
{
	struct request *rq = READ_ONCE(fx->slots[slot].rq);
	struct fxhba_cmd *cmd = blk_mq_rq_to_pdu(rq);
	loff_t pos = (loff_t)fx->slots[slot].sector << SECTOR_SHIFT;
	struct req_iterator iter;
	struct bio_vec bvec;

	cmd->status = BLK_STS_OK;
	if (pos + fx->slots[slot].bytes > (loff_t)fx->sectors << SECTOR_SHIFT) {
		cmd->status = BLK_STS_IOERR;
		return;
	}
	rq_for_each_segment(bvec, rq, iter) {
		if (pos + bvec.bv_len > (loff_t)fx->sectors << SECTOR_SHIFT) {
			cmd->status = BLK_STS_IOERR;
			return;
		}
		if (rq_data_dir(rq) == WRITE)
			memcpy_from_bvec(fx->data + pos, &bvec);
		else
			memcpy_to_bvec(&bvec, fx->data + pos);
		pos += bvec.bv_len;
	}
}

/* The controller's reply names the slot: find its request, release the slot, end the request. */
static noinline void fxhba_complete_slot(struct fxhba_dev *fx, int slot)
{
	unsigned long flags = 0;
	struct request *rq;
	struct fxhba_cmd *cmd;

	fxhba_table_lock(fx, &flags);
	rq = READ_ONCE(fx->slots[slot].rq);
	WRITE_ONCE(fx->slots[slot].rq, NULL);
	fxhba_table_unlock(fx, flags);
	cmd = blk_mq_rq_to_pdu(rq);
	blk_mq_end_request(rq, cmd->status);
}

static blk_status_t fxhba_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	struct fxhba_dev *fx = hctx->queue->queuedata;
	struct request *rq = bd->rq;
	int slot;

	if (req_op(rq) != REQ_OP_READ && req_op(rq) != REQ_OP_WRITE)
		return BLK_STS_NOTSUPP;
	slot = fxhba_claim_slot(fx, rq);
	if (slot < 0)
		return BLK_STS_RESOURCE;
	blk_mq_start_request(rq);
	fxhba_transfer(fx, slot);
	fxhba_complete_slot(fx, slot);
	return BLK_STS_OK;
}

static const struct blk_mq_ops fxhba_mq_ops = {
	.queue_rq = fxhba_queue_rq,
};

static const struct block_device_operations fxhba_fops = {
	.owner = THIS_MODULE,
};

static int fxhba_add_disk(struct fxhba_dev *fx, struct device *parent)
{
	struct gendisk *disk;
	int err;

	fx->tag_set.ops = &fxhba_mq_ops;
	fx->tag_set.nr_hw_queues = num_online_cpus();
	fx->tag_set.queue_depth = FXHBA_QUEUE_DEPTH;
	fx->tag_set.numa_node = NUMA_NO_NODE;
	fx->tag_set.cmd_size = sizeof(struct fxhba_cmd);
	fx->tag_set.flags = BLK_MQ_F_SHOULD_MERGE;
	err = blk_mq_alloc_tag_set(&fx->tag_set);
	if (err)
		return err;
	disk = blk_mq_alloc_disk(&fx->tag_set, fx);
	if (IS_ERR(disk)) {
		blk_mq_free_tag_set(&fx->tag_set);
		return PTR_ERR(disk);
	}
	disk->major = fxhba_major;
	disk->first_minor = 0;
	disk->minors = 16;
	disk->fops = &fxhba_fops;
	disk->private_data = fx;
	snprintf(disk->disk_name, DISK_NAME_LEN, "fxhba0");
	set_capacity(disk, fx->sectors);
	blk_queue_logical_block_size(disk->queue, SECTOR_SIZE);
	blk_queue_physical_block_size(disk->queue, PAGE_SIZE);
	blk_queue_max_hw_sectors(disk->queue, 256);
	err = device_add_disk(parent, disk, NULL);
	if (err) {
		put_disk(disk);
		blk_mq_free_tag_set(&fx->tag_set);
		return err;
	}
	fx->disk = disk;
	return 0;
}

/* The "adapter" is a platform device bound to this driver: the disk hangs below it in sysfs, as a real
 * HBA's disks hang below its PCI function, so tools find the disk's driver through /sys/block/<disk>/device.
 */
static int fxhba_probe(struct platform_device *pdev)
{
	struct fxhba_dev *fx;
	int err;

	fx = devm_kzalloc(&pdev->dev, sizeof(*fx), GFP_KERNEL);
	if (!fx)
		return -ENOMEM;
	spin_lock_init(&fx->table_lock);
	fx->sectors = (sector_t)size_mb << (20 - SECTOR_SHIFT);
	fx->data = vzalloc((size_t)size_mb << 20);
	if (!fx->data)
		return -ENOMEM;
	err = fxhba_add_disk(fx, &pdev->dev);
	if (err) {
		vfree(fx->data);
		return err;
	}
	platform_set_drvdata(pdev, fx);
	dev_info(&pdev->dev, "version %s: fxhba0, %u MiB, %u hardware queues\n", FXHBA_VERSION, size_mb,
		 fx->tag_set.nr_hw_queues);
	return 0;
}

static int fxhba_remove(struct platform_device *pdev)
{
	struct fxhba_dev *fx = platform_get_drvdata(pdev);

	del_gendisk(fx->disk);
	put_disk(fx->disk);
	blk_mq_free_tag_set(&fx->tag_set);
	vfree(fx->data);
	return 0;
}

static struct platform_driver fxhba_driver = {
	.probe = fxhba_probe,
	.remove = fxhba_remove,
	.driver = { .name = "fxhba" },
};

static int __init fxhba_init(void)
{
	int err;

	if (!size_mb)
		return -EINVAL;
	fxhba_major = register_blkdev(0, "fxhba");
	if (fxhba_major < 0)
		return fxhba_major;
	err = platform_driver_register(&fxhba_driver);
	if (err)
		goto unregister_blkdev;
	fxhba_pdev = platform_device_register_simple("fxhba", 0, NULL, 0);
	if (IS_ERR(fxhba_pdev)) {
		err = PTR_ERR(fxhba_pdev);
		goto unregister_driver;
	}
	if (!platform_get_drvdata(fxhba_pdev)) { /* probe failed: no disk */
		err = -ENODEV;
		goto unregister_device;
	}
	return 0;

unregister_device:
	platform_device_unregister(fxhba_pdev);
unregister_driver:
	platform_driver_unregister(&fxhba_driver);
unregister_blkdev:
	unregister_blkdev(fxhba_major, "fxhba");
	return err;
}

static void __exit fxhba_exit(void)
{
	platform_device_unregister(fxhba_pdev);
	platform_driver_unregister(&fxhba_driver);
	unregister_blkdev(fxhba_major, "fxhba");
}

module_init(fxhba_init);
module_exit(fxhba_exit);

MODULE_DESCRIPTION("fleetfix lab vendor HBA (RAM-backed blk-mq disk)");
MODULE_AUTHOR("fleetfix lab");
MODULE_LICENSE("GPL");
MODULE_VERSION(FXHBA_VERSION);
