/* Host-to-host transfers for background traffic (traffic.h): SimGrid 3.32's C API has no rate cap on a
 * communication (s4u::Comm::set_rate is C++ only), so these few calls are C++ behind a C interface (flow.h). */
#include "flow.h"

#include <simgrid/Exception.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Mailbox.hpp>

using simgrid::s4u::CommPtr;

extern "C" void *bg_flow_put(const char *mailbox, double bytes, double rate)
{
    static char payload;   /* nobody reads it */
    CommPtr c = simgrid::s4u::Mailbox::by_name(mailbox)->put_init(&payload, static_cast<uint64_t>(bytes));
    if (rate > 0)
        c->set_rate(rate);
    c->start();
    return new CommPtr(c);
}

extern "C" void *bg_flow_start(sg_host_t from, sg_host_t to, double bytes, double rate)
{
    /* The rate first: SimGrid 3.32 starts a host-to-host comm as soon as it has both ends and a size, and refuses
     * set_rate afterwards. */
    CommPtr c = simgrid::s4u::Comm::sendto_init();
    if (rate > 0)
        c->set_rate(rate);
    c->set_source(from);
    c->set_payload_size(static_cast<uint64_t>(bytes));
    c->set_destination(to);
    if (c->get_state() == simgrid::s4u::Activity::State::INITED)
        c->start();
    return new CommPtr(c);
}

extern "C" int bg_flow_wait(void *h)
{
    try {
        (*static_cast<CommPtr *>(h))->wait();
        return 0;
    } catch (const simgrid::NetworkFailureException &) {
        return 1;
    } catch (const simgrid::CancelException &) {
        return 1;
    }
}

extern "C" double bg_flow_remaining(void *h)
{
    return (*static_cast<CommPtr *>(h))->get_remaining();
}

extern "C" void bg_flow_release(void *h)
{
    delete static_cast<CommPtr *>(h);
}
