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
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/module.h>
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
	int major;
	struct blk_mq_tag_set tag_set;
	struct gendisk *disk;
};

static struct fxhba_dev *fxhba;

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

/* Take a free slot, describe the transfer in it, post it to the controller, then publish the request. */
static int fxhba_claim_slot(struct fxhba_dev *fx, struct request *rq)
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
static void fxhba_transfer(struct fxhba_dev *fx, int slot)
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
static void fxhba_complete_slot(struct fxhba_dev *fx, int slot)
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

static int fxhba_add_disk(struct fxhba_dev *fx)
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
	disk->major = fx->major;
	disk->first_minor = 0;
	disk->minors = 16;
	disk->fops = &fxhba_fops;
	disk->private_data = fx;
	snprintf(disk->disk_name, DISK_NAME_LEN, "fxhba0");
	set_capacity(disk, fx->sectors);
	blk_queue_logical_block_size(disk->queue, SECTOR_SIZE);
	blk_queue_physical_block_size(disk->queue, PAGE_SIZE);
	blk_queue_max_hw_sectors(disk->queue, 256);
	err = add_disk(disk);
	if (err) {
		put_disk(disk);
		blk_mq_free_tag_set(&fx->tag_set);
		return err;
	}
	fx->disk = disk;
	return 0;
}

static int __init fxhba_init(void)
{
	struct fxhba_dev *fx;
	int err;

	if (!size_mb)
		return -EINVAL;
	fx = kzalloc(sizeof(*fx), GFP_KERNEL);
	if (!fx)
		return -ENOMEM;
	spin_lock_init(&fx->table_lock);
	fx->sectors = (sector_t)size_mb << (20 - SECTOR_SHIFT);
	fx->data = vzalloc((size_t)size_mb << 20);
	err = -ENOMEM;
	if (!fx->data)
		goto free_dev;
	fx->major = register_blkdev(0, "fxhba");
	err = fx->major;
	if (fx->major < 0)
		goto free_data;
	err = fxhba_add_disk(fx);
	if (err)
		goto unregister;
	fxhba = fx;
	pr_info("version %s: fxhba0, %u MiB, %u hardware queues\n", FXHBA_VERSION, size_mb,
		fx->tag_set.nr_hw_queues);
	return 0;

unregister:
	unregister_blkdev(fx->major, "fxhba");
free_data:
	vfree(fx->data);
free_dev:
	kfree(fx);
	return err;
}

static void __exit fxhba_exit(void)
{
	struct fxhba_dev *fx = fxhba;

	del_gendisk(fx->disk);
	put_disk(fx->disk);
	blk_mq_free_tag_set(&fx->tag_set);
	unregister_blkdev(fx->major, "fxhba");
	vfree(fx->data);
	kfree(fx);
}

module_init(fxhba_init);
module_exit(fxhba_exit);

MODULE_DESCRIPTION("fleetfix lab vendor HBA (RAM-backed blk-mq disk)");
MODULE_AUTHOR("fleetfix lab");
MODULE_LICENSE("GPL");
MODULE_VERSION(FXHBA_VERSION);
