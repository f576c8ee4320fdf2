// corun's HailoRT compatibility layer: InferModel, ConfiguredInferModel, Bindings and
// AsyncInferJob with HailoRT's spellings, each a thin handle over corun's class of the same name
// (include/corun). What differs from HailoRT is named in docs/MIGRATING.md; in short: streams
// are the ONNX model's, an input's YUV layout for pix buffers is chosen with set_format_order
// (a HEF carries it), and copies of Bindings share their buffers as HailoRT's do.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "corun/configured_infer_model.hpp"
#include "corun/infer_model.hpp"
#include "hailo/buffer.hpp"
#include "hailo/expected.hpp"

namespace hailort {

namespace detail {

// The YUV layout chosen for each input that takes pix buffers (set_format_order with
// HAILO_FORMAT_ORDER_NV12, NV21 or I420), by input name.
using PixelLayouts = std::map<std::string, corun::PixelLayout>;

inline std::optional<corun::PixelLayout> pixel_layout_of(hailo_format_order_t order) {
    switch (order) {
        case HAILO_FORMAT_ORDER_NV12:
            return corun::PixelLayout::NV12;
        case HAILO_FORMAT_ORDER_NV21:
            return corun::PixelLayout::NV21;
        case HAILO_FORMAT_ORDER_I420:
            return corun::PixelLayout::I420;
        default:
            return std::nullopt;
    }
}

inline hailo_format_order_t format_order_of(corun::PixelLayout layout) {
    switch (layout) {
        case corun::PixelLayout::NV12:
            return HAILO_FORMAT_ORDER_NV12;
        case corun::PixelLayout::NV21:
            return HAILO_FORMAT_ORDER_NV21;
        case corun::PixelLayout::I420:
            return HAILO_FORMAT_ORDER_I420;
    }
    return HAILO_FORMAT_ORDER_AUTO;
}

inline hailo_status status_of(const corun::Status& status) {
    return to_hailo_status(status);
}

// The user formats both APIs name, each way round.
inline constexpr std::pair<hailo_format_type_t, corun::FormatType> FORMAT_TYPES[] = {
    {HAILO_FORMAT_TYPE_AUTO, corun::FormatType::AUTO},
    {HAILO_FORMAT_TYPE_UINT8, corun::FormatType::UINT8},
    {HAILO_FORMAT_TYPE_UINT16, corun::FormatType::UINT16},
    {HAILO_FORMAT_TYPE_FLOAT32, corun::FormatType::FLOAT32},
};
inline constexpr std::pair<hailo_format_order_t, corun::FormatOrder> FORMAT_ORDERS[] = {
    {HAILO_FORMAT_ORDER_AUTO, corun::FormatOrder::AUTO},
    {HAILO_FORMAT_ORDER_NHWC, corun::FormatOrder::NHWC},
    {HAILO_FORMAT_ORDER_NCHW, corun::FormatOrder::NCHW},
    {HAILO_FORMAT_ORDER_NC, corun::FormatOrder::NC},
    {HAILO_FORMAT_ORDER_NHW, corun::FormatOrder::NHW},
};

// HailoRT lets ConfiguredInferModel and Bindings be default-constructed; such an object has
// nothing to run, and says so instead of crashing.
inline corun::Status unconfigured_model() {
    return corun::Status(corun::StatusCode::INVALID_OPERATION,
                         "this ConfiguredInferModel is default-constructed; assign it the result "
                         "of InferModel::configure() first");
}
inline corun::Status unbound_bindings() {
    return corun::Status(corun::StatusCode::INVALID_OPERATION,
                         "these Bindings are default-constructed; assign them the result of "
                         "ConfiguredInferModel::create_bindings() first");
}

// Bytes of a YUV 4:2:0 frame of an image stream of this user shape and order.
inline size_t yuv420_frame_size(const std::vector<int64_t>& shape, corun::FormatOrder order) {
    if (shape.size() != 4) return 0;
    const bool nhwc = order == corun::FormatOrder::NHWC;
    return static_cast<size_t>(shape[nhwc ? 1 : 2] * shape[nhwc ? 2 : 3]) * 3 / 2;
}

}  // namespace detail

class ConfiguredInferModel;

struct AsyncInferCompletionInfo {
    AsyncInferCompletionInfo(hailo_status _status) : status(_status) {}  // NOLINT: as HailoRT's
    hailo_status status;
};

using AsyncInferCallback = std::function<void(const AsyncInferCompletionInfo&)>;

// A job in flight: wait() for it, or detach() it; without detach the destructor waits.
class AsyncInferJob {
public:
    AsyncInferJob() = default;
    hailo_status wait(std::chrono::milliseconds timeout) {
        return detail::status_of(job_.wait(timeout));
    }
    void detach() { job_.detach(); }

private:
    friend class ConfiguredInferModel;
    explicit AsyncInferJob(corun::AsyncInferJob job) : job_(std::move(job)) {}
    corun::AsyncInferJob job_;
};

class ConfiguredInferModel {
public:
    ConfiguredInferModel() = default;

    // The buffers of one frame. Copies share them (HailoRT's Bindings hold shared streams).
    class Bindings {
    public:
        Bindings() = default;

        class InferStream {
        public:
            hailo_status set_buffer(MemoryView view) {
                // An input read as YUV takes its frame in one piece, as a packed pix buffer.
                if (layout_ && view.size() == yuv_frame_size_) {
                    return set_planes({{view.data(), view.size()}});
                }
                shared_->pix_buffers.erase(name_);
                return detail::status_of(stream().set_buffer(view.to_corun()));
            }
            Expected<MemoryView> get_buffer() {
                if (shared_->pix_buffers.count(name_) != 0) {
                    return Unexpected(to_hailo_status(corun::Status(
                        corun::StatusCode::INVALID_OPERATION,
                        "get_buffer: '" + name_ + "' holds a pix buffer; use get_pix_buffer")));
                }
                auto buffer = stream().get_buffer();
                if (!buffer) return Unexpected(to_hailo_status(buffer.status()));
                return MemoryView(buffer->data, buffer->size);
            }

            // Planes of a YUV 4:2:0 frame (NV12/NV21: 2, I420: 3, or one holding them all), in
            // the layout set_format_order chose for this input (default: NV12 for 2 planes,
            // I420 for 3). One plane of the input's own frame size is bound as set_buffer.
            // Read and converted now (corun::Bindings::InferStream::set_pix_buffer).
            hailo_status set_pix_buffer(const hailo_pix_buffer_t& pix_buffer) {
                if (pix_buffer.memory_type != HAILO_PIX_BUFFER_MEMORY_TYPE_USERPTR ||
                    pix_buffer.number_of_planes == 0 ||
                    pix_buffer.number_of_planes > MAX_NUMBER_OF_PLANES) {
                    return detail::status_of(corun::Status(
                        corun::StatusCode::NOT_SUPPORTED,
                        "set_pix_buffer: '" + name_ +
                            "' takes 1 to 4 planes of user memory "
                            "(HAILO_PIX_BUFFER_MEMORY_TYPE_USERPTR); a DMA-buf plane is not "
                            "supported"));
                }
                std::vector<corun::PixPlane> planes;
                for (uint32_t p = 0; p < pix_buffer.number_of_planes; ++p) {
                    planes.push_back(
                        {pix_buffer.planes[p].user_ptr, pix_buffer.planes[p].bytes_used});
                }
                if (planes.size() == 1 && !layout_) {
                    const hailo_status status =
                        set_buffer(MemoryView(const_cast<void*>(planes[0].data), planes[0].size));
                    if (status == HAILO_SUCCESS) shared_->pix_buffers[name_] = pix_buffer;
                    return status;
                }
                const hailo_status status = set_planes(planes);
                if (status == HAILO_SUCCESS) shared_->pix_buffers[name_] = pix_buffer;
                return status;
            }
            Expected<hailo_pix_buffer_t> get_pix_buffer() {
                auto found = shared_->pix_buffers.find(name_);
                if (found == shared_->pix_buffers.end()) {
                    return Unexpected(to_hailo_status(
                        corun::Status(corun::StatusCode::INVALID_OPERATION,
                                      "get_pix_buffer: '" + name_ + "' holds no pix buffer")));
                }
                return found->second;
            }

            // A DMA-buf fd (a camera's or a GPU's): corun binds user memory only.
            hailo_status set_dma_buffer(hailo_dma_buffer_t) {
                return detail::status_of(corun::Status(
                    corun::StatusCode::NOT_SUPPORTED,
                    "set_dma_buffer: corun binds user memory only; mmap the DMA-buf and bind it "
                    "with set_buffer"));
            }
            Expected<hailo_dma_buffer_t> get_dma_buffer() {
                return Unexpected(HAILO_INVALID_OPERATION);
            }

        private:
            friend class Bindings;
            struct Shared {
                explicit Shared(corun::ConfiguredInferModel::Bindings bindings)
                    : bindings(std::move(bindings)) {}
                corun::ConfiguredInferModel::Bindings bindings;
                std::map<std::string, hailo_pix_buffer_t>
                    pix_buffers;  // as set, for get_pix_buffer
            };
            InferStream(std::shared_ptr<Shared> shared, std::string name, bool is_input,
                        std::optional<corun::PixelLayout> layout, size_t yuv_frame_size)
                : shared_(std::move(shared)),
                  name_(std::move(name)),
                  is_input_(is_input),
                  layout_(layout),
                  yuv_frame_size_(yuv_frame_size) {}
            corun::ConfiguredInferModel::Bindings::InferStream stream() {
                return *(is_input_ ? shared_->bindings.input(name_)
                                   : shared_->bindings.output(name_));
            }
            hailo_status set_planes(std::vector<corun::PixPlane> planes) {
                corun::PixBuffer pix{corun::PixelLayout::NV12, std::move(planes)};
                if (layout_) {
                    pix.layout = *layout_;
                } else if (pix.planes.size() == 3) {
                    pix.layout = corun::PixelLayout::I420;
                }
                if (!is_input_) {
                    return detail::status_of(corun::Status(
                        corun::StatusCode::INVALID_OPERATION,
                        "set_pix_buffer: '" + name_ + "' is an output; pix buffers are inputs"));
                }
                return detail::status_of(stream().set_pix_buffer(pix));
            }

            std::shared_ptr<Shared> shared_;
            std::string name_;
            bool is_input_ = true;
            std::optional<corun::PixelLayout> layout_;
            size_t yuv_frame_size_ = 0;
        };

        Expected<InferStream> input() { return single(true); }
        Expected<InferStream> output() { return single(false); }
        Expected<InferStream> input(const std::string& name) { return find(name, true); }
        Expected<InferStream> output(const std::string& name) { return find(name, false); }

        // corun's bindings, to run them (or to use corun's API beside this one).
        const corun::ConfiguredInferModel::Bindings& corun_bindings() const {
            return shared_->bindings;
        }

    private:
        friend class ConfiguredInferModel;
        Bindings(corun::ConfiguredInferModel::Bindings bindings,
                 std::shared_ptr<const detail::PixelLayouts> layouts)
            : shared_(std::make_shared<InferStream::Shared>(std::move(bindings))),
              layouts_(std::move(layouts)) {}

        Expected<InferStream> make(
            corun::Expected<corun::ConfiguredInferModel::Bindings::InferStream> stream,
            bool is_input) {
            if (!stream)
                return Unexpected(to_hailo_status(stream.status()), stream.status().to_string());
            std::optional<corun::PixelLayout> layout;
            size_t yuv_size = 0;
            if (is_input) {
                auto found = layouts_->find(stream->name());
                if (found != layouts_->end()) {
                    layout = found->second;
                    yuv_size = detail::yuv420_frame_size(stream->shape(), stream->format().order);
                }
            }
            return InferStream(shared_, stream->name(), is_input, layout, yuv_size);
        }
        Expected<InferStream> single(bool is_input) {
            if (!shared_) return Unexpected(to_hailo_status(detail::unbound_bindings()));
            return make(is_input ? shared_->bindings.input() : shared_->bindings.output(),
                        is_input);
        }
        Expected<InferStream> find(const std::string& name, bool is_input) {
            if (!shared_) return Unexpected(to_hailo_status(detail::unbound_bindings()));
            return make(is_input ? shared_->bindings.input(name) : shared_->bindings.output(name),
                        is_input);
        }

        std::shared_ptr<InferStream::Shared> shared_;
        std::shared_ptr<const detail::PixelLayouts> layouts_;
    };

    Expected<Bindings> create_bindings() {
        if (!model_) return Unexpected(to_hailo_status(detail::unconfigured_model()));
        auto bindings = model_->create_bindings();
        if (!bindings)
            return Unexpected(to_hailo_status(bindings.status()), bindings.status().to_string());
        return Bindings(bindings.release(), layouts_);
    }

    hailo_status wait_for_async_ready(std::chrono::milliseconds timeout,
                                      uint32_t frames_count = 1) {
        return detail::status_of(model_ ? model_->wait_for_async_ready(timeout, frames_count)
                                        : detail::unconfigured_model());
    }
    // Nothing to activate: a configured model is ready, and the scheduler shares the device.
    hailo_status activate() { return HAILO_SUCCESS; }
    hailo_status deactivate() { return HAILO_SUCCESS; }

    hailo_status run(Bindings bindings, std::chrono::milliseconds timeout) {
        if (!model_ || !bindings.shared_) {
            return detail::status_of(model_ ? detail::unbound_bindings()
                                            : detail::unconfigured_model());
        }
        return detail::status_of(model_->run(bindings.corun_bindings(), timeout));
    }
    Expected<AsyncInferJob> run_async(Bindings bindings, AsyncInferCallback callback = nullptr) {
        return run_async(std::vector<Bindings>{std::move(bindings)}, std::move(callback));
    }
    Expected<AsyncInferJob> run_async(const std::vector<Bindings>& bindings,
                                      AsyncInferCallback callback = nullptr) {
        if (!model_) return Unexpected(to_hailo_status(detail::unconfigured_model()));
        std::vector<corun::ConfiguredInferModel::Bindings> frames;
        for (const auto& frame : bindings) {
            if (!frame.shared_) return Unexpected(to_hailo_status(detail::unbound_bindings()));
            frames.push_back(frame.corun_bindings());
        }
        corun::AsyncInferCallback on_done = nullptr;
        if (callback) {
            on_done = [callback =
                           std::move(callback)](const corun::AsyncInferCompletionInfo& info) {
                callback(AsyncInferCompletionInfo(to_hailo_status(info.status)));
            };
        }
        auto job = model_->run_async(frames, std::move(on_done));
        if (!job) return Unexpected(to_hailo_status(job.status()), job.status().to_string());
        return AsyncInferJob(job.release());
    }

    hailo_status set_scheduler_timeout(const std::chrono::milliseconds& timeout) {
        return detail::status_of(model_ ? model_->set_scheduler_timeout(timeout)
                                        : detail::unconfigured_model());
    }
    hailo_status set_scheduler_threshold(uint32_t threshold) {
        return detail::status_of(model_ ? model_->set_scheduler_threshold(threshold)
                                        : detail::unconfigured_model());
    }
    hailo_status set_scheduler_priority(uint8_t priority) {
        return detail::status_of(model_ ? model_->set_scheduler_priority(priority)
                                        : detail::unconfigured_model());
    }
    Expected<size_t> get_async_queue_size() {
        if (!model_) return Unexpected(to_hailo_status(detail::unconfigured_model()));
        return Expected<size_t>::from(model_->get_async_queue_size());
    }
    hailo_status shutdown() {
        return detail::status_of(model_ ? model_->shutdown() : detail::unconfigured_model());
    }

    // corun's configured model (a handle: copies share it), for what only corun's API has.
    corun::ConfiguredInferModel& corun_model() { return *model_; }

private:
    friend class InferModel;
    ConfiguredInferModel(corun::ConfiguredInferModel model,
                         std::shared_ptr<const detail::PixelLayouts> layouts)
        : model_(std::make_shared<corun::ConfiguredInferModel>(std::move(model))),
          layouts_(std::move(layouts)) {}

    std::shared_ptr<corun::ConfiguredInferModel> model_;
    std::shared_ptr<const detail::PixelLayouts> layouts_;
};

class InferModel {
public:
    // One input or output, before configure(). Copies refer to the same stream.
    class InferStream {
    public:
        const std::string name() const { return stream_.name(); }

        // Height, width and features (channels) of one frame; 1 where the stream has no such
        // dimension (NC: 1 x 1 x C), and the product of the rest for other ranks.
        hailo_3d_image_shape_t shape() const {
            const std::vector<int64_t> dims = stream_.shape();
            auto dim = [&](size_t i) { return static_cast<uint32_t>(dims[i] < 0 ? 0 : dims[i]); };
            const corun::FormatOrder order = stream_.format().order;
            if (dims.size() == 4 && order == corun::FormatOrder::NCHW)
                return {dim(2), dim(3), dim(1)};
            if (dims.size() == 4) return {dim(1), dim(2), dim(3)};
            if (dims.size() == 3) return {dim(1), dim(2), 1};
            uint32_t features = 1;
            for (size_t i = 1; i < dims.size(); ++i) features *= dim(i);
            return {1, 1, features};
        }
        hailo_format_t format() const {
            const corun::Format format = stream_.format();
            // A type or order with no HailoRT name (INT64 tokens ...) reads AUTO; corun's
            // format() has it.
            hailo_format_t result{HAILO_FORMAT_TYPE_AUTO, HAILO_FORMAT_ORDER_AUTO,
                                  HAILO_FORMAT_FLAGS_NONE};
            for (const auto& [hailo, corun_type] : detail::FORMAT_TYPES) {
                if (corun_type == format.type) result.type = hailo;
            }
            for (const auto& [hailo, corun_order] : detail::FORMAT_ORDERS) {
                if (corun_order == format.order) result.order = hailo;
            }
            if (auto layout = pixel_layout()) result.order = detail::format_order_of(*layout);
            return result;
        }
        // Bytes of one frame; for an input read as YUV (set_format_order NV12/NV21/I420), of
        // the YUV frame (height x width x 3 / 2), as HailoRT reports for a YUV model.
        size_t get_frame_size() const {
            if (pixel_layout()) {
                return detail::yuv420_frame_size(stream_.shape(), stream_.format().order);
            }
            return stream_.get_frame_size();
        }

        void set_format_type(hailo_format_type_t type) {
            for (const auto& [hailo, corun_type] : detail::FORMAT_TYPES) {
                if (hailo == type) stream_.set_format_type(corun_type);
            }
        }
        // NHWC, NCHW, NC, NHW and AUTO are the buffer's order; NV12, NV21 and I420 (inputs
        // only) say that its pix buffers come in that YUV layout, converted to the model's
        // image (whose order stays as it was). Others are logged as NOT_SUPPORTED.
        void set_format_order(hailo_format_order_t order) {
            if (auto layout = detail::pixel_layout_of(order)) {
                if (stream_.is_input()) {
                    (*layouts_)[stream_.name()] = *layout;
                    return;
                }
            } else {
                layouts_->erase(stream_.name());
            }
            for (const auto& [hailo, corun_order] : detail::FORMAT_ORDERS) {
                if (hailo == order) return stream_.set_format_order(corun_order);
            }
            to_hailo_status(corun::Status(
                corun::StatusCode::NOT_SUPPORTED,
                "set_format_order: '" + stream_.name() +
                    "' takes NHWC, NCHW, NC, NHW or AUTO (and, for an input, NV12, NV21 or I420 "
                    "for pix buffers); order " +
                    std::to_string(static_cast<int>(order)) + " is left as it was"));
        }
        std::vector<hailo_quant_info_t> get_quant_infos() const {
            std::vector<hailo_quant_info_t> infos;
            for (const auto& quant : stream_.get_quant_infos()) {
                infos.push_back(
                    {quant.zero_point, quant.scale, quant.limvals_min, quant.limvals_max});
            }
            return infos;
        }
        // corun runs NMS in its tasks (src/tasks), not inside the model: no stream is an NMS one.
        bool is_nms() const { return false; }

        // corun's stream, for what only corun's API has (set_shape, native_format ...).
        const corun::InferModel::InferStream& corun_stream() const { return stream_; }

    private:
        friend class InferModel;
        InferStream(corun::InferModel::InferStream stream,
                    std::shared_ptr<detail::PixelLayouts> layouts)
            : stream_(std::move(stream)), layouts_(std::move(layouts)) {}
        std::optional<corun::PixelLayout> pixel_layout() const {
            auto found = layouts_->find(stream_.name());
            if (!stream_.is_input() || found == layouts_->end()) return std::nullopt;
            return found->second;
        }

        corun::InferModel::InferStream stream_;
        std::shared_ptr<detail::PixelLayouts> layouts_;
    };

    explicit InferModel(std::shared_ptr<corun::InferModel> model)
        : model_(std::move(model)), layouts_(std::make_shared<detail::PixelLayouts>()) {
        for (const auto& stream : model_->inputs())
            inputs_.push_back(InferStream(stream, layouts_));
        for (const auto& stream : model_->outputs())
            outputs_.push_back(InferStream(stream, layouts_));
    }
    virtual ~InferModel() = default;

    // Frames per burst: the scheduler switches models only after this many (HailoRT's meaning).
    void set_batch_size(uint16_t batch_size) {
        detail::status_of(model_->set_batch_size(batch_size));
    }

    Expected<ConfiguredInferModel> configure() {
        auto configured = model_->configure();
        if (!configured) {
            return Unexpected(to_hailo_status(configured.status()),
                              configured.status().to_string());
        }
        // The YUV layouts as they are now: later set_format_order calls do not change this one.
        return ConfiguredInferModel(configured.release(),
                                    std::make_shared<const detail::PixelLayouts>(*layouts_));
    }

    Expected<InferStream> input() { return single(inputs_, model_->input()); }
    Expected<InferStream> output() { return single(outputs_, model_->output()); }
    Expected<InferStream> input(const std::string& name) {
        return find(inputs_, name, model_->input(name));
    }
    Expected<InferStream> output(const std::string& name) {
        return find(outputs_, name, model_->output(name));
    }
    const std::vector<InferStream>& inputs() const { return inputs_; }
    const std::vector<InferStream>& outputs() const { return outputs_; }
    const std::vector<std::string>& get_input_names() const { return model_->get_input_names(); }
    const std::vector<std::string>& get_output_names() const { return model_->get_output_names(); }

    // corun's model, for what only corun's API has (info(), set_frame_time_limit ...).
    corun::InferModel& corun_model() { return *model_; }

private:
    // corun's lookup decides (and its message says why it failed); the stream is ours.
    static Expected<InferStream> single(
        const std::vector<InferStream>& streams,
        const corun::Expected<corun::InferModel::InferStream>& found) {
        if (!found) return Unexpected(to_hailo_status(found.status()), found.status().to_string());
        return streams.front();
    }
    static Expected<InferStream> find(
        const std::vector<InferStream>& streams, const std::string& name,
        const corun::Expected<corun::InferModel::InferStream>& found) {
        if (!found) return Unexpected(to_hailo_status(found.status()), found.status().to_string());
        for (const auto& stream : streams) {
            if (stream.name() == name) return stream;
        }
        return make_unexpected(HAILO_NOT_FOUND);
    }

    std::shared_ptr<corun::InferModel> model_;
    std::shared_ptr<detail::PixelLayouts> layouts_;
    std::vector<InferStream> inputs_;
    std::vector<InferStream> outputs_;
};

}  // namespace hailort
