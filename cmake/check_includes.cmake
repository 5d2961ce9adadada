# The architecture check (cmake -DROOT=<source dir> -P cmake/check_includes.cmake;
# the build runs it as the target check_includes, in ALL). A component
# (common, protocol, sql, adapter, client, harness, reports) uses another
# only through that one's public include/ directory; everything else of a
# component (src/ and any other folder) is private to it. The check fails,
# naming file:line and the fix, when
#   1. a .c/.h of a component has an #include "x.h" that resolves only to a
#      private directory of another component;
#   2. a CMake file adds another component's private directory to an include
#      path (include_directories, target_include_directories);
#   3. a component's target links a target of another component that
#      publishes its private directory (PUBLIC or INTERFACE): the private
#      headers then reach the linker's include path without an #include
#      that looks wrong;
#   4. tests/, bench/ or fuzz/ (which may use internals) add a private
#      directory anywhere but to a library target of their own, or include a
#      private header by a relative path: internals come through named
#      targets (a component's internal target, as client/'s
#      dbev_client_internal), never through a raw path on a test program.
# Nothing is allow-listed: a finding is fixed, not excused.
cmake_minimum_required(VERSION 3.20)

if(NOT ROOT)
    message(FATAL_ERROR "usage: cmake -DROOT=<dbev source dir> -P cmake/check_includes.cmake")
endif()
set(COMPONENTS common protocol sql adapter client harness reports)
set(INTERNAL_USERS tests bench fuzz)
set(findings 0)

# "<component>;public|private" for a path relative to ROOT, or "" when the
# path belongs to no component. A component's own root counts as private:
# adding it exposes every folder under it.
function(classify rel out)
    set(result "")
    string(REGEX MATCH "^([^/]+)(/([^/]+))?" _ "${rel}")
    if(CMAKE_MATCH_1 IN_LIST COMPONENTS)
        if(CMAKE_MATCH_3 STREQUAL "include")
            set(result "${CMAKE_MATCH_1};public")
        else()
            set(result "${CMAKE_MATCH_1};private")
        endif()
    endif()
    set(${out} "${result}" PARENT_SCOPE)
endfunction()

# The 1-based line of the first occurrence of needle in file at or after
# character offset from (-1 when absent); *_pos gets the offset found.
function(line_of file needle from out_line out_pos)
    file(READ "${file}" text)
    string(LENGTH "${text}" len)
    math(EXPR rest "${len} - ${from}")
    string(SUBSTRING "${text}" ${from} ${rest} tail)
    string(FIND "${tail}" "${needle}" pos)
    if(pos LESS 0)
        set(${out_line} -1 PARENT_SCOPE)
        set(${out_pos} ${len} PARENT_SCOPE)
        return()
    endif()
    math(EXPR pos "${pos} + ${from}")
    string(SUBSTRING "${text}" 0 ${pos} before)
    string(REGEX MATCHALL "\n" newlines "${before}")
    list(LENGTH newlines n)
    math(EXPR n "${n} + 1")
    set(${out_line} ${n} PARENT_SCOPE)
    set(${out_pos} ${pos} PARENT_SCOPE)
endfunction()

# One finding: what is wrong (file:line first) and how to fix it.
macro(finding what fix)
    string(STRIP "${what}" _what)
    message("${_what}\n${fix}\n")
    math(EXPR findings "${findings} + 1")
endmacro()

# Every directory of each component, split into its own and the private
# ones of the others (for resolving a quoted #include).
foreach(c ${COMPONENTS})
    file(GLOB_RECURSE dirs LIST_DIRECTORIES true "${ROOT}/${c}/*")
    set(DIRS_${c} "${ROOT}/${c}")
    set(PRIVATE_DIRS_${c} "")
    foreach(d ${dirs})
        if(IS_DIRECTORY "${d}")
            list(APPEND DIRS_${c} "${d}")
            file(RELATIVE_PATH rel "${ROOT}" "${d}")
            classify("${rel}" kind)
            if(kind MATCHES ";private$")
                list(APPEND PRIVATE_DIRS_${c} "${d}")
            endif()
        endif()
    endforeach()
    list(APPEND PUBLIC_DIRS "${ROOT}/${c}/include")
endforeach()

# ---- 1 and 4: #include "..." in the sources ---------------------------------
foreach(owner ${COMPONENTS} ${INTERNAL_USERS})
    file(GLOB_RECURSE sources "${ROOT}/${owner}/*.c" "${ROOT}/${owner}/*.h")
    foreach(src ${sources})
        file(STRINGS "${src}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"]+\"")
        get_filename_component(here "${src}" DIRECTORY)
        file(RELATIVE_PATH src_rel "${ROOT}" "${src}")
        foreach(inc ${includes})
            string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*" "\\1" name "${inc}")
            if(owner IN_LIST INTERNAL_USERS)
                # Internals are theirs to use, through targets; only a relative
                # path into a component's private folder goes around them.
                if(EXISTS "${here}/${name}")
                    cmake_path(ABSOLUTE_PATH name BASE_DIRECTORY "${here}" NORMALIZE OUTPUT_VARIABLE abs)
                    file(RELATIVE_PATH rel "${ROOT}" "${abs}")
                    classify("${rel}" kind)
                    if(kind MATCHES ";private$")
                        list(GET kind 0 comp)
                        get_filename_component(base "${name}" NAME)
                        line_of("${src}" "${inc}" 0 line _)
                        finding("${src_rel}:${line}: #include \"${name}\" reaches ${rel}, a private header of ${comp}, by a relative path.\n"
                                "  fix: #include \"${base}\" and link ${comp}'s internal target (an INTERFACE library over its private folder, like client's dbev_client_internal), so the dependency is declared in CMake.")
                    endif()
                endif()
                continue()
            endif()
            # Resolves like the compiler: the file's own folder, then the
            # component's own folders and every public include/.
            set(resolved "")
            foreach(d "${here}" ${DIRS_${owner}} ${PUBLIC_DIRS})
                if(EXISTS "${d}/${name}")
                    set(resolved "${d}/${name}")
                    break()
                endif()
            endforeach()
            if(resolved)
                cmake_path(NORMAL_PATH resolved)
                file(RELATIVE_PATH rel "${ROOT}" "${resolved}")
                classify("${rel}" kind)
                if(NOT kind MATCHES "^${owner};" AND kind MATCHES ";private$")
                    list(GET kind 0 comp) # "../other/src/x.h" from the file's folder
                else()
                    continue()
                endif()
            else()
                set(comp "")
                foreach(c ${COMPONENTS})
                    if(c STREQUAL owner)
                        continue()
                    endif()
                    foreach(d ${PRIVATE_DIRS_${c}})
                        if(EXISTS "${d}/${name}")
                            file(RELATIVE_PATH rel "${ROOT}" "${d}/${name}")
                            set(comp ${c})
                            break()
                        endif()
                    endforeach()
                    if(comp)
                        break()
                    endif()
                endforeach()
                if(NOT comp) # a system or generated header
                    continue()
                endif()
            endif()
            line_of("${src}" "${inc}" 0 line _)
            finding("${src_rel}:${line}: #include \"${name}\" is ${rel}, a private header of ${comp}: ${owner} may use only ${comp}'s public headers (${comp}/include).\n"
                    "  fix: use what ${comp}/include declares; if ${owner} needs more, give ${comp} a public API for it, or move the shared code into a component both depend on (as sql/ holds the SQL rules). Then drop ${comp}/src from ${owner}'s include path.")
        endforeach()
    endforeach()
endforeach()

# ---- 2, 3 and 4: include paths and links in the CMake files -----------------
# Every call of command in text, as written.
function(calls text command out)
    string(REGEX MATCHALL "(^|[^a-z_])${command}[ \t]*\\([^)]*\\)" found "${text}")
    list(TRANSFORM found REPLACE "^[^a-z_]" "")
    set(${out} "${found}" PARENT_SCOPE)
endfunction()

# The arguments of a call calls() found, as a list, comments removed.
function(call_args call command out)
    string(REGEX REPLACE "^${command}[ \t]*\\(([^)]*)\\)$" "\\1" args "${call}")
    string(REGEX REPLACE "#[^\n]*" "" args "${args}")
    string(REGEX REPLACE "[ \t\r\n]+" ";" args "${args}")
    list(REMOVE_ITEM args "")
    set(${out} "${args}" PARENT_SCOPE)
endfunction()

# An include path argument as an absolute path, or "" when it cannot be
# known here (another variable, a generator expression).
function(resolve_arg arg dir out)
    set(result "")
    string(REPLACE "\${CMAKE_SOURCE_DIR}" "${ROOT}" arg "${arg}")
    string(REPLACE "\${PROJECT_SOURCE_DIR}" "${ROOT}" arg "${arg}")
    string(REPLACE "\${CMAKE_CURRENT_SOURCE_DIR}" "${dir}" arg "${arg}")
    string(REPLACE "\${CMAKE_CURRENT_LIST_DIR}" "${dir}" arg "${arg}")
    string(REPLACE "\"" "" arg "${arg}")
    if(NOT arg MATCHES "[$<>]" AND NOT arg STREQUAL "")
        cmake_path(ABSOLUTE_PATH arg BASE_DIRECTORY "${dir}" NORMALIZE OUTPUT_VARIABLE result)
        string(REGEX REPLACE "/$" "" result "${result}")
    endif()
    set(${out} "${result}" PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE cmake_files "${ROOT}/CMakeLists.txt" "${ROOT}/*/CMakeLists.txt"
     "${ROOT}/*.cmake")
set(publishers "")
set(library_targets "")
foreach(f ${cmake_files})
    file(RELATIVE_PATH f_rel "${ROOT}" "${f}")
    if(f_rel MATCHES "^(build|\\.git)" OR f_rel MATCHES "/CMakeFiles/")
        continue()
    endif()
    list(APPEND scanned_cmake "${f}")
    file(READ "${f}" text)
    string(REGEX MATCHALL "add_library\\([ \t\n]*[A-Za-z0-9_\${}-]+" libs "${text}")
    foreach(l ${libs})
        string(REGEX REPLACE "add_library\\([ \t\n]*" "" l "${l}")
        list(APPEND library_targets "${l}")
    endforeach()
endforeach()

foreach(f ${scanned_cmake})
    file(RELATIVE_PATH f_rel "${ROOT}" "${f}")
    get_filename_component(dir "${f}" DIRECTORY)
    string(REGEX MATCH "^[^/]+" owner "${f_rel}")
    if(NOT owner IN_LIST COMPONENTS AND NOT owner IN_LIST INTERNAL_USERS)
        set(owner root) # CMakeLists.txt and cmake/ at the top
    endif()
    file(READ "${f}" text)
    foreach(command target_include_directories include_directories)
        calls("${text}" ${command} found)
        set(from 0)
        foreach(call ${found})
            call_args("${call}" ${command} args)
            set(target "")
            if(command STREQUAL "target_include_directories")
                list(POP_FRONT args target)
            endif()
            line_of("${f}" "${call}" ${from} line from)
            math(EXPR from "${from} + 1")
            set(scope PRIVATE)
            foreach(arg ${args})
                if(arg MATCHES "^(PUBLIC|PRIVATE|INTERFACE)$")
                    set(scope ${arg})
                    continue()
                elseif(arg MATCHES "^(SYSTEM|BEFORE|AFTER)$")
                    continue()
                endif()
                resolve_arg("${arg}" "${dir}" abs)
                if(NOT abs)
                    continue()
                endif()
                file(RELATIVE_PATH rel "${ROOT}" "${abs}")
                classify("${rel}" kind)
                if(NOT kind MATCHES ";private$")
                    continue()
                endif()
                list(GET kind 0 comp)
                if(comp STREQUAL owner)
                    if(NOT scope STREQUAL "PRIVATE" AND target)
                        list(APPEND publishers "${target}|${comp}|${rel}|${f_rel}:${line}")
                    endif()
                    continue()
                endif()
                if(owner IN_LIST INTERNAL_USERS AND target IN_LIST library_targets)
                    # a named internal target of the tests, e.g. dbev_adb_pgenv
                    if(NOT scope STREQUAL "PRIVATE")
                        list(APPEND publishers "${target}|${owner}|${rel}|${f_rel}:${line}")
                    endif()
                    continue()
                endif()
                if(owner IN_LIST INTERNAL_USERS)
                    finding("${f_rel}:${line}: ${command}(${target}) adds ${rel}, a private folder of ${comp}: ${owner}/ may use internals only through a named target.\n"
                            "  fix: link ${comp}'s internal target (an INTERFACE library over its private folder that ${comp}/CMakeLists.txt defines, like client's dbev_client_internal) instead of adding the path.")
                else()
                    finding("${f_rel}:${line}: ${command}(${target}) adds ${rel}, a private folder of ${comp}, to ${owner}'s include path.\n"
                            "  fix: ${owner} uses ${comp} through ${comp}/include only (link ${comp}'s library); move what ${owner} needs into a public header of ${comp} or into a component both depend on.")
                endif()
            endforeach()
        endforeach()
    endforeach()
endforeach()

# 3: a component linking a target that publishes another component's
# private folder.
foreach(f ${scanned_cmake})
    file(RELATIVE_PATH f_rel "${ROOT}" "${f}")
    string(REGEX MATCH "^[^/]+" owner "${f_rel}")
    if(NOT owner IN_LIST COMPONENTS)
        continue()
    endif()
    file(READ "${f}" text)
    calls("${text}" target_link_libraries found)
    set(from 0)
    foreach(call ${found})
        call_args("${call}" target_link_libraries args)
        list(POP_FRONT args target)
        line_of("${f}" "${call}" ${from} line from)
        math(EXPR from "${from} + 1")
        foreach(p ${publishers})
            string(REPLACE "|" ";" p "${p}")
            list(GET p 0 published)
            list(GET p 1 comp)
            list(GET p 2 rel)
            list(GET p 3 where)
            if(comp STREQUAL owner OR NOT published IN_LIST args)
                continue()
            endif()
            finding("${f_rel}:${line}: ${target} (${owner}) links ${published}, which publishes ${rel}, a private folder of ${comp} (${where}): ${comp}'s private headers are then on ${owner}'s include path.\n"
                    "  fix: make that folder PRIVATE in ${where}, give the tests a named internal target for it (an INTERFACE library, like client's dbev_client_internal), and have ${owner} use ${comp}/include only.")
        endforeach()
    endforeach()
endforeach()

if(findings GREATER 0)
    message(FATAL_ERROR "check_includes: ${findings} finding(s) above: a component reaches into another's private headers (cmake/check_includes.cmake says the rules). Configure with -DDBEV_CHECK_INCLUDES=OFF only to build past it while the fix is elsewhere.")
endif()
list(LENGTH scanned_cmake n_cmake)
message(STATUS "check_includes: components use each other through include/ only (${n_cmake} CMake files scanned)")
