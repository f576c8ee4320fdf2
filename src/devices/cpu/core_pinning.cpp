#include "devices/cpu/core_pinning.hpp"

namespace corun::devices::cpu {

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return {};
    std::vector<int> cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
    return cpus;
}

std::string pool_affinities(const std::vector<int>& cpus, uint32_t pool_threads) {
    if (pool_threads < 2 || cpus.size() < pool_threads) return {};
    std::string affinities;
    for (uint32_t worker = 1; worker < pool_threads; ++worker) {
        if (!affinities.empty()) affinities += ';';
        affinities += std::to_string(cpus[worker] + 1);
    }
    return affinities;
}

PinnedToCpu::PinnedToCpu(int cpu) {
    CPU_ZERO(&before_);
    if (cpu < 0 || sched_getaffinity(0, sizeof before_, &before_) != 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pinned_ = sched_setaffinity(0, sizeof one, &one) == 0;
}

PinnedToCpu::~PinnedToCpu() {
    if (pinned_) (void)sched_setaffinity(0, sizeof before_, &before_);
}

}  // namespace corun::devices::cpu
