// LoadModel: the client's ONNX bytes (and every external-data file they name) become a model
// on the session's device group, its threads and memory charged to the user's account.
#include <algorithm>
#include <span>

#include "service/daemon/model_registry.hpp"

namespace corun::service {

Expected<std::shared_ptr<LoadedModelEntry>> ModelRegistry::load(
    const v1::LoadModelRequest& request) {
    CORUN_RETURN_IF_ERROR(check_model_size(request, limits_.max_model_bytes));
    CORUN_RETURN_IF_ERROR(check_room_for_loaded());
    CORUN_RETURN_IF_ERROR(check_model_not_empty(request));
    const std::string& onnx_bytes = request.onnx();
    ModelInfo info;
    info.name = request.name().empty() ? "model" : request.name();
    const auto* data = reinterpret_cast<const uint8_t*>(onnx_bytes.data());

    auto entry = std::make_shared<LoadedModelEntry>();
    // Models with their own intra-op pools make threads: counted for the user before loading.
    const uint32_t intra_op_threads = vdevice_.params().cpu.intra_op_threads;
    if (intra_op_threads > 0) {
        CORUN_TRY(
            auto threads,
            charge_account(account_, ClientAccount::Resource::THREADS,
                           uint64_t{intra_op_threads} * vdevice_.physical_devices().size(),
                           limits_.max_threads_per_client,
                           "loading model '" + info.name + "' with its own intra-op threads"));
        entry->charges.push_back(std::move(threads));
    }
    // Every file the model names comes with it; corund opens none (load_infer_model refuses a
    // model naming one that was not sent, and the device is given no folder to look in).
    ModelLoadExtras extras;
    for (const auto& file : request.external_data()) {
        extras.external_data.push_back(
            {file.location(), std::vector<uint8_t>(file.content().begin(), file.content().end())});
    }
    // No tensor folded at load may be larger than what the user may still take in all.
    const uint64_t memory_left = limits_.max_model_memory_per_client -
                                 std::min(limits_.max_model_memory_per_client,
                                          account_->held(ClientAccount::Resource::MODEL_MEMORY));
    extras.constant_folding_max_bytes = std::max<uint64_t>(1, memory_left);

    // Loading takes long (an ONNX Runtime session); other calls of the session go on meanwhile.
    // Loads are measured one at a time: the daemon's growth while this one runs is its cost.
    Expected<std::shared_ptr<InferModel>> loaded =
        Status(StatusCode::INTERNAL_FAILURE, "not loaded");
    const LoadMemory memory = load_memory_.measure([&] {
        loaded =
            runtime::load_infer_model(vdevice_, std::span<const uint8_t>(data, onnx_bytes.size()),
                                      std::move(info), std::move(extras));
    });
    CORUN_TRY(auto model, std::move(loaded));
    // The peak must fit; what stays is held until the model is gone.
    CORUN_RETURN_IF_ERROR(account_->charge(
        ClientAccount::Resource::MODEL_MEMORY, memory.peak_bytes,
        limits_.max_model_memory_per_client,
        "loading model '" + model->info().name + "' (the daemon's peak growth while loading it)"));
    account_->refund(ClientAccount::Resource::MODEL_MEMORY, memory.peak_bytes);
    CORUN_TRY(
        auto retained,
        charge_account(account_, ClientAccount::Resource::MODEL_MEMORY, memory.retained_bytes,
                       limits_.max_model_memory_per_client, "model '" + model->info().name + "'"));
    entry->charges.push_back(std::move(retained));
    entry->name = model->info().name;
    entry->model = std::move(model);
    CORUN_RETURN_IF_ERROR(add_loaded(entry));
    return entry;
}

}  // namespace corun::service
